//! BookInfo ratings service: star ratings from memory or a MySQL/MongoDB database, with fault modes.
