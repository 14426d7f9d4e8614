//! BookInfo productpage: the web front end that calls details and reviews.
