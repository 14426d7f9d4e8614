//! Which reviews version served a product page, read from the page itself.
//!
//! reviews v1 shows no stars, v2 black stars, v3 red stars (istio.io's traffic-management
//! tasks are demonstrated by exactly this difference). This productpage draws the stars inside
//! `<div class="stars text-black-500">` / `text-red-500`; upstream's Python productpage wraps
//! them in `<font color="black">` / `<font color="red">`: both are recognised.

use std::fmt;

/// What a product page says about the reviews it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seen {
    /// Reviews without stars.
    V1,
    /// Black stars.
    V2,
    /// Red stars.
    V3,
    /// Reviews with star ratings expected, but ratings was unavailable (v2 or v3).
    RatingsUnavailable,
    /// productpage could not fetch the reviews.
    ReviewsUnavailable,
    /// Not a page this tool recognises.
    Unknown,
}

impl Seen {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::V3 => "v3",
            Self::RatingsUnavailable => "ratings-unavailable",
            Self::ReviewsUnavailable => "reviews-unavailable",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reviews version a `/productpage` body was served with.
pub fn reviews_version(html: &str) -> Seen {
    if html.contains("Error fetching product reviews") {
        return Seen::ReviewsUnavailable;
    }
    if html.contains("text-red-500") || html.contains("color=\"red\"") {
        return Seen::V3;
    }
    if html.contains("text-black-500") || html.contains("color=\"black\"") {
        return Seen::V2;
    }
    if html.contains("Ratings service is currently unavailable") {
        return Seen::RatingsUnavailable;
    }
    if html.contains("Book Reviews") {
        return Seen::V1;
    }
    Seen::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_by_their_stars() {
        let v1 = "<h4>Book Reviews</h4><section class=\"review\"><blockquote>\"x\"</blockquote>";
        assert_eq!(reviews_version(v1), Seen::V1);
        let v2 = "<h4>Book Reviews</h4><div class=\"stars text-black-500\"><svg></svg></div>";
        assert_eq!(reviews_version(v2), Seen::V2);
        let v3 = "<h4>Book Reviews</h4><div class=\"stars text-red-500\"><svg></svg></div>";
        assert_eq!(reviews_version(v3), Seen::V3);
        let upstream_v3 = "<h4 class=\"text-center text-primary\">Book Reviews</h4><font color=\"red\"><span class=\"glyphicon glyphicon-star\"></span></font>";
        assert_eq!(reviews_version(upstream_v3), Seen::V3);
        let no_ratings =
            "<h4>Book Reviews</h4><p class=\"error\">Ratings service is currently unavailable</p>";
        assert_eq!(reviews_version(no_ratings), Seen::RatingsUnavailable);
        let down = "<p class=\"error\">Error fetching product reviews</p>";
        assert_eq!(reviews_version(down), Seen::ReviewsUnavailable);
        assert_eq!(reviews_version("<html></html>"), Seen::Unknown);
    }
}
