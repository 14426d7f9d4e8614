//! The reviews answer, written out by hand with upstream's exact spacing.
//!
//! Upstream builds its body by string concatenation, which gives it an unusual but stable layout
//! (`{"id": "0","podname": …` and two spaces inside each review object). Clients only parse it,
//! but byte-for-byte parity is cheap and makes captured traffic comparable. Unlike upstream, the
//! strings we insert (pod and cluster names from the environment) are JSON-escaped, so an odd
//! value cannot break the document; ordinary values come out identical.

/// The two fixed reviews: reviewer and text.
pub const REVIEWS: [(&str, &str); 2] = [
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
];

/// Shown in place of stars when a reviewer's rating could not be obtained.
pub const UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// What a review says about its rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    /// v1: the review has no `rating` key at all.
    Disabled,
    /// Stars from the ratings service (0 is emitted as is).
    Stars(i32),
    /// Ratings enabled but this reviewer's value is unavailable.
    Unavailable,
}

/// Everything the answer contains.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The product id, normalized (`007` is `7`).
    pub product_id: i32,
    pub podname: Option<&'a str>,
    pub clustername: Option<&'a str>,
    pub star_color: &'a str,
    /// One rating per entry of [`REVIEWS`].
    pub ratings: [Rating; 2],
}

impl Answer<'_> {
    /// The JSON text of the answer.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("{\"id\": \"");
        out.push_str(&self.product_id.to_string());
        out.push_str("\",\"podname\": ");
        out.push_str(&quoted(self.podname.unwrap_or("null")));
        out.push_str(",\"clustername\": ");
        out.push_str(&quoted(self.clustername.unwrap_or("null")));
        out.push_str(",\"reviews\": [");
        for (i, ((reviewer, text), rating)) in REVIEWS.iter().zip(self.ratings).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{  \"reviewer\": ");
            out.push_str(&quoted(reviewer));
            out.push_str(",  \"text\": ");
            out.push_str(&quoted(text));
            match rating {
                Rating::Disabled => {}
                Rating::Stars(stars) => {
                    out.push_str(", \"rating\": {\"stars\": ");
                    out.push_str(&stars.to_string());
                    out.push_str(", \"color\": ");
                    out.push_str(&quoted(self.star_color));
                    out.push('}');
                }
                Rating::Unavailable => {
                    out.push_str(", \"rating\": {\"error\": ");
                    out.push_str(&quoted(UNAVAILABLE));
                    out.push('}');
                }
            }
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

/// A JSON string literal.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_answer_matches_upstream_byte_for_byte() {
        let answer = Answer {
            product_id: 0,
            podname: Some("reviews-v3-7d99fd7978-dm6mx"),
            clustername: None,
            star_color: "red",
            ratings: [Rating::Stars(5), Rating::Stars(4)],
        };
        assert_eq!(
            answer.render(),
            r#"{"id": "0","podname": "reviews-v3-7d99fd7978-dm6mx","clustername": "null","reviews": [{  "reviewer": "Reviewer1",  "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!", "rating": {"stars": 5, "color": "red"}},{  "reviewer": "Reviewer2",  "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.", "rating": {"stars": 4, "color": "red"}}]}"#
        );
    }

    #[test]
    fn odd_environment_values_stay_valid_json() {
        let answer = Answer {
            product_id: -2,
            podname: Some("a\"b\\c"),
            clustername: Some("east"),
            star_color: "bl\"ue",
            ratings: [Rating::Stars(0), Rating::Unavailable],
        };
        let parsed: serde_json::Value = serde_json::from_str(&answer.render()).unwrap();
        assert_eq!(parsed["id"], "-2");
        assert_eq!(parsed["podname"], "a\"b\\c");
        assert_eq!(parsed["reviews"][0]["rating"]["color"], "bl\"ue");
        assert_eq!(parsed["reviews"][1]["rating"]["error"], UNAVAILABLE);
    }
}
