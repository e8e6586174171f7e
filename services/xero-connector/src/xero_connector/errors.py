"""What the connector's use cases raise; the API and the pipeline translate them.

ConnectorError
├── NotConnected          the organisation has no Xero connection    (not_connected)
├── ConnectionExpired     Xero refused the refresh token: reconnect  (connection_expired)
├── InvalidState          unknown, replayed or expired OAuth ``state``
├── AuthorizationFailed   Xero's redirect carried an error, or the code exchange failed
├── XeroNotConfigured     no Xero client id
├── UnknownInvoice        the connector has no record of the invoice (link: sync it first)
└── LinkRefused           the Xero invoice cannot be linked (not found, not ACCREC, another
                          number, linked to another invoice)
"""

from sync_schemas import ErrorCode


class ConnectorError(Exception):
    pass


class NotConnected(ConnectorError):
    error_code = ErrorCode.NOT_CONNECTED

    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisation {org_id} has no Xero connection")
        self.org_id = org_id


class ConnectionExpired(ConnectorError):
    error_code = ErrorCode.CONNECTION_EXPIRED

    def __init__(self, org_id: str) -> None:
        super().__init__(f"the Xero connection of organisation {org_id} has expired")
        self.org_id = org_id


class InvalidState(ConnectorError):
    pass


class AuthorizationFailed(ConnectorError):
    pass


class XeroNotConfigured(ConnectorError):
    pass


class UnknownInvoice(ConnectorError):
    pass


class LinkRefused(ConnectorError):
    pass
