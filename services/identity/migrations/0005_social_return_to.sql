-- A social sign-in started from the OpenID provider's sign-in page comes back to the
-- authorization request, whose URL (a client's state, nonce and PKCE challenge) can pass 512.
ALTER TABLE social_flows DROP CONSTRAINT social_flows_return_to_check;
ALTER TABLE social_flows ADD CONSTRAINT social_flows_return_to_check
    CHECK (length(return_to) <= 2048);
