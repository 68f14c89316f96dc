"""The dashboard's sign-in cookie, as the page's script (`sign_in`) and the server (`server`)
name it: a random secret whose SHA-256 the database holds (tuning.service.accounts.users).
Set and cleared by the server at `COOKIE_ROUTE`, HttpOnly, SameSite=Strict, Secure over HTTPS."""

COOKIE = "tuning_session"
COOKIE_ROUTE = "/_tuning/cookie"
