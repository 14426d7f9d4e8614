//! The one book productpage knows about (upstream hard-codes it too).

use serde_json::{Value, json};

/// The id the product page always asks the backends for.
pub const PRODUCT_ID: &str = "0";

pub const TITLE: &str = "The Comedy of Errors";

/// Trusted HTML, rendered unescaped on the page (it is ours, not a backend's).
pub const DESCRIPTION_HTML: &str = "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.";

/// `GET /api/v1/products`: the list with the single product, keys in upstream's order.
pub fn products() -> Value {
    json!([{ "id": 0, "title": TITLE, "descriptionHtml": DESCRIPTION_HTML }])
}
