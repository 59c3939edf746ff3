-- Each replica keeps the entitlements it answered from in memory (kabinet.notified_cache) and
-- LISTENs on "<schema>_entitlements": a change to an account's rows names the account, a change to
-- the plans (which tier is the cheapest with a feature) names every account ('*'). Delivered at
-- commit; PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION entitlements_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '_entitlements', OLD.account_id::text);
    ELSE
        PERFORM pg_notify(TG_TABLE_SCHEMA || '_entitlements', NEW.account_id::text);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '_entitlements', OLD.account_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER entitlements_notify AFTER INSERT OR UPDATE OR DELETE ON entitlements
    FOR EACH ROW EXECUTE FUNCTION entitlements_notify();

CREATE FUNCTION entitlements_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_entitlements', '*');
    RETURN NULL;
END
$$;

CREATE TRIGGER plans_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION entitlements_notify_all();

CREATE TRIGGER entitlements_truncate_notify AFTER TRUNCATE ON entitlements
    FOR EACH STATEMENT EXECUTE FUNCTION entitlements_notify_all();
