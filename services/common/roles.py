"""Who may do what: the realm's roles and the scope each one gives.

A role says what kind of user someone is; the organizations they act for travel in the token as
`org_ids` (a user attribute only administrators may edit). The services read both from the
caller and decide (see services.registry.access).
"""

CENTRAL_ADMIN = "central_admin"
AUDITOR = "auditor"
REGIONAL_STAFF = "regional_staff"
AIS_RESPONSIBLE = "ais_responsible"
CHAIR = "chair"
MEMBER = "member"
OPERATOR = "operator"

ROLES: dict[str, str] = {
    CENTRAL_ADMIN: "Аппарат ЦС: весь реестр",
    AUDITOR: "Аудитор ЦС: журнал доступа к персональным данным",
    REGIONAL_STAFF: "Аппарат региональной организации: свой регион",
    AIS_RESPONSIBLE: "Ответственный за АИС в регионе: свой регион",
    CHAIR: "Председатель: своя организация и входящие в неё",
    MEMBER: "Член Профсоюза: личный кабинет",
    OPERATOR: "Оператор платформы: загрузки и обслуживание",
}

# roles that see and change the whole registry
GLOBAL_ROLES = frozenset({CENTRAL_ADMIN, OPERATOR})
# roles that act for the organizations listed in org_ids, and beneath them
SCOPED_ROLES = frozenset({REGIONAL_STAFF, AIS_RESPONSIBLE, CHAIR})
# roles that read the audit log
AUDIT_READERS = frozenset({AUDITOR, CENTRAL_ADMIN})
# roles that read members' personal data (birth dates, SNILS, contacts) within their scope;
# platform operators load files and count, but do not read people's cards
PERSONAL_DATA_READERS = frozenset({CENTRAL_ADMIN, REGIONAL_STAFF, AIS_RESPONSIBLE, CHAIR})
