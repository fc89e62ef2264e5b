"""The realm's client ids, apart from realm.py: the gateway needs the names, not the Keycloak
admin library (whose import alone costs the gateway's process some 15 MB)."""

API_CLIENT = "reestr-api"
PORTAL_CLIENT = "reestr-portal"
CLI_CLIENT = "reestr-cli"
