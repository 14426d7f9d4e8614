-- Schema and data for ratings v2 with DB_TYPE=mysql: database `test`, table `ratings`.
-- The service runs `SELECT Rating FROM ratings`: the first row rates for Reviewer1, the
-- second for Reviewer2. Re-running this file resets the database to these two rows.
DROP DATABASE IF EXISTS test;
CREATE DATABASE test;
USE test;

CREATE TABLE ratings (
  ReviewID INT NOT NULL,
  Rating INT,
  PRIMARY KEY (ReviewID)
);

INSERT INTO ratings (ReviewID, Rating) VALUES (1, 5), (2, 4);
