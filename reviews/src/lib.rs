//! BookInfo reviews service: two reviews, with star ratings from the ratings service in v2/v3.
