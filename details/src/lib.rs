//! BookInfo details service: book metadata, optionally from Google Books.
