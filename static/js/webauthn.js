/* Security keys (WebAuthn): adds a key from the account page, and uses one at the
   second step of logging in. The server gives the options (JSON, base64url for the
   binary parts) and checks the answer, which this script puts in the form's hidden
   "credential" field before the form is sent as usual. Loaded as a file: the
   Content-Security-Policy forbids inline script. */
(function () {
  "use strict";

  var supported = !!(window.PublicKeyCredential && navigator.credentials);

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var copy = { type: d.type, id: toBytes(d.id) };
      if (d.transports) { copy.transports = d.transports; }
      return copy;
    });
  }

  function creationOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return o;
  }

  function requestOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return o;
  }

  function created(c) {
    var r = c.response;
    return {
      id: c.id,
      rawId: toText(c.rawId),
      type: c.type,
      response: {
        clientDataJSON: toText(r.clientDataJSON),
        attestationObject: toText(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : []
      },
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }

  function asserted(c) {
    var r = c.response;
    return {
      id: c.id,
      rawId: toText(c.rawId),
      type: c.type,
      response: {
        clientDataJSON: toText(r.clientDataJSON),
        authenticatorData: toText(r.authenticatorData),
        signature: toText(r.signature),
        userHandle: toText(r.userHandle)
      },
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }

  function showError(form, message) {
    var box = form.querySelector("[data-webauthn-error]");
    if (box) { box.textContent = message; box.hidden = false; }
  }

  function options(form) {
    var token = form.querySelector("input[name=csrf_token]").value;
    return fetch(form.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw { fromServer: body.error }; }
        return body;
      });
    });
  }

  var forms = document.querySelectorAll("form[data-webauthn]");
  Array.prototype.forEach.call(forms, function (form) {
    if (!supported) { return; }
    form.hidden = false;
    var unsupported = document.querySelector("[data-webauthn-unsupported]");
    if (unsupported) { unsupported.hidden = true; }
    var kind = form.getAttribute("data-webauthn");
    var busy = false;
    form.addEventListener("submit", function (event) {
      var field = form.querySelector("input[name=credential]");
      if (field.value) { return; }  // the answer is in: send the form
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      options(form).then(function (o) {
        if (kind === "register") {
          return navigator.credentials.create({ publicKey: creationOptions(o) }).then(created);
        }
        return navigator.credentials.get({ publicKey: requestOptions(o) }).then(asserted);
      }).then(function (answer) {
        field.value = JSON.stringify(answer);
        form.submit();
      }).catch(function (error) {
        busy = false;
        // The words come from the page (translatable there); a server refusal has its own.
        var message = error && error.name === "NotAllowedError"
          ? form.getAttribute("data-cancelled")
          : (error && error.fromServer) || form.getAttribute("data-failed");
        showError(form, message);
      });
    });
  });
})();
