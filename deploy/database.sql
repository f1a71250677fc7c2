-- The cdoc2-keyserver database and its two users, with least privilege (MariaDB 10.6+, MySQL 8).
-- Replace both passwords, and '%' with the hosts the servers connect from, then run it as an administrator:
--   mariadb --user=root < deploy/database.sql
-- tests: test/e2e/deployment.test.ts runs this file (with unique names), migrates with the first user and
-- serves with the second.

CREATE DATABASE `cdoc2` CHARACTER SET utf8mb4;

-- `cdoc2-keyserver migrate`: creates and alters the tables (Knex migrations, with their own bookkeeping tables
-- knex_migrations and knex_migrations_lock, which it reads and writes).
CREATE USER 'cdoc2_migrate'@'%' IDENTIFIED BY 'change-me-migrate';
GRANT CREATE, ALTER, DROP, INDEX, REFERENCES, SELECT, INSERT, UPDATE, DELETE ON `cdoc2`.* TO 'cdoc2_migrate'@'%';

-- `cdoc2-keyserver serve` (with database.migrate: false): reads and writes rows, nothing else. A server
-- taken over by an attacker cannot drop or alter a table with it.
CREATE USER 'cdoc2_serve'@'%' IDENTIFIED BY 'change-me-serve';
GRANT SELECT, INSERT, UPDATE, DELETE ON `cdoc2`.* TO 'cdoc2_serve'@'%';
