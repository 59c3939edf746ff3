// The portal's only script: forms marked data-api are sent to the JSON API (multipart when the
// form says enctype="multipart/form-data", for file uploads), and password fields
// marked data-password-rules show which rules the password still breaks while it is typed.
// Fields: a checked radio with data-json adds its JSON value's members; data-number sends a
// number; data-idempotency-key on the form becomes the Idempotency-Key header.
"use strict";

(function () {
  var CSRF_COOKIE = "__Host-kabinet_csrf";

  function csrfToken() {
    var parts = document.cookie.split("; ");
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === CSRF_COOKIE) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  function callApi(url, method, body, idempotencyKey) {
    var headers = { "Accept": "application/json", "Accept-Language": document.documentElement.lang };
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    var token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;  // multipart: the browser writes the Content-Type with its boundary
    } else if (body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      var type = response.headers.get("content-type") || "";
      var read = type.indexOf("json") >= 0 ? response.json() : Promise.resolve(null);
      return read.then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    });
  }

  function formBody(form) {
    if (form.enctype === "multipart/form-data") return new FormData(form);
    var body = {};
    var fields = form.querySelectorAll("input[name], select[name], textarea[name]");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.type === "radio" && !field.checked) continue;
      if (field.dataset.json !== undefined) Object.assign(body, JSON.parse(field.value));
      else if (field.type === "checkbox") body[field.name] = field.checked;
      else if ("number" in field.dataset) body[field.name] = Number(field.value);
      else if (field.value !== "" || field.type === "hidden") body[field.name] = field.value;
    }
    return body;
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-field-error]").forEach(function (node) { node.hidden = true; node.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    form.querySelectorAll("[data-form-error], [data-form-done]").forEach(function (node) { node.hidden = true; node.textContent = ""; });
  }

  function showProblem(form, problem) {
    var summary = form.querySelector("[data-form-error]");
    var firstInvalid = null;
    var violations = (problem && problem.violations) || [];
    violations.forEach(function (violation) {
      var name = violation.field || "";
      var slot = form.querySelector('[data-field-error="' + name + '"]');
      var input = form.querySelector('[name="' + name + '"]');
      if (slot) {
        slot.textContent = (slot.textContent ? slot.textContent + " " : "") + violation.message;
        slot.hidden = false;
      }
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (!firstInvalid) firstInvalid = input;
      }
    });
    if (summary) {
      summary.textContent = (problem && problem.detail) || "Error";
      summary.hidden = false;
      summary.focus();
    }
  }

  function submitForm(event) {
    var form = event.target;
    if (!form.matches("form[data-api]")) return;
    event.preventDefault();
    clearErrors(form);
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    var method = (form.dataset.method || "POST").toUpperCase();
    var body = method === "DELETE" ? null : formBody(form);
    callApi(form.dataset.api, method, body, form.dataset.idempotencyKey).then(function (result) {
      if (button) button.disabled = false;
      if (!result.ok) { showProblem(form, result.data); return; }
      if (form.dataset.follow && result.data && result.data[form.dataset.follow]) {
        window.location.assign(result.data[form.dataset.follow]);
        return;
      }
      if (form.dataset.successRedirect) {
        // "{id}" in the target is the id of what the API answered with (a new ticket's page).
        var id = result.data && result.data.id ? encodeURIComponent(result.data.id) : "";
        window.location.assign(form.dataset.successRedirect.replace("{id}", id));
        return;
      }
      if (form.hasAttribute("data-success-reload")) { window.location.reload(); return; }
      var done = form.querySelector("[data-form-done]");
      if (done && form.dataset.successMessage) {
        done.textContent = form.dataset.successMessage;
        done.hidden = false;
      }
      form.querySelectorAll("input[type=password]").forEach(function (input) { input.value = ""; });
    }, function () {
      if (button) button.disabled = false;
      showProblem(form, { detail: document.documentElement.lang === "ru" ? "Нет связи с сервером." : "The server could not be reached." });
    });
  }

  function watchPassword(input) {
    var box = document.getElementById(input.dataset.passwordRules);
    if (!box) return;
    var timer = null;
    var emailField = input.dataset.emailField ? input.form.querySelector('[name="' + input.dataset.emailField + '"]') : null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var body = { password: input.value };
        if (emailField && emailField.value.indexOf("@") > 0) body.email = emailField.value;
        if (!input.value) { markRules(box, null); return; }
        callApi("/api/v1/auth/password/check", "POST", body).then(function (result) {
          if (result.ok && result.data) markRules(box, result.data.violations);
        }, function () {});
      }, 250);
    });
  }

  function markRules(box, violations) {
    var broken = {};
    (violations || []).forEach(function (v) { broken[v.code] = v.message; });
    box.querySelectorAll("[data-rule]").forEach(function (item) {
      item.classList.toggle("ok", violations !== null && !broken[item.dataset.rule]);
      item.classList.toggle("bad", violations !== null && !!broken[item.dataset.rule]);
      delete broken[item.dataset.rule];
    });
    var extra = box.querySelector("[data-rule-extra]");
    extra.textContent = "";
    Object.keys(broken).forEach(function (code) {
      var li = document.createElement("li");
      li.className = "bad";
      li.textContent = broken[code];
      extra.appendChild(li);
    });
  }

  document.addEventListener("submit", submitForm);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-password-rules]").forEach(watchPassword);
  });
})();
