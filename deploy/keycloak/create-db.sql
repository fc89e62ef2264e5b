-- Keycloak's role and database, idempotent. Run as a superuser with psql:
--   psql -d postgres -v role=keycloak -v pw=keycloak -v db=keycloak -f create-db.sql
-- Used by deploy/up.sh (local cluster) and the keycloak-db service of deploy/compose.yml.
\set ON_ERROR_STOP on
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS need_role \gset
\if :need_role
  \echo '==> creating role' :role
  CREATE ROLE :"role" LOGIN PASSWORD :'pw';
\else
  \echo '==> setting the password of role' :role
  ALTER ROLE :"role" LOGIN PASSWORD :'pw';
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS need_db \gset
\if :need_db
  \echo '==> creating database' :db
  CREATE DATABASE :"db" OWNER :"role";
\endif
