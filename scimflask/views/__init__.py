"""The Flask views of the SCIM blueprint."""
