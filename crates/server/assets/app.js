// FlowPilot's own progressive enhancement. Every page works without this file; it only adds
// comfort: a "thinking" state on slow forms, the next step shown while it is written, a guard
// against losing typed text, and number keys for answering a step.
(function () {
  "use strict";

  var submitting = false;

  // Forms marked data-thinking: say FlowPilot is working and stop double submissions.
  // The button is disabled on the next tick, after the browser has collected the form data,
  // so the clicked button's own name and value (e.g. selected_option) are still sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (!form.hasAttribute("data-thinking")) { submitting = true; return; }
    if (form.getAttribute("data-submitting") === "true") { event.preventDefault(); return; }
    form.setAttribute("data-submitting", "true");
    submitting = true;
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    window.setTimeout(function () {
      buttons.forEach(function (button) { button.disabled = true; });
      form.setAttribute("aria-busy", "true");
      var status = form.querySelector("[data-thinking-status]");
      if (status) status.textContent = "FlowPilot is thinking\u2026";
    }, 0);
  });

  // data-stream on a form (the session page's answer form): send it to that URL instead and
  // read the answer as server-sent events, showing the next step's text in the element named
  // by data-forming while the model writes it; then go to the page the final event names.
  // Anything unexpected (no streaming support, a response that is not a stream: a sign-in
  // redirect, a CSRF refusal) falls back to the plain form post, which works without us.
  var canStream = !!(window.fetch && window.TextDecoder && window.ReadableStream && window.URLSearchParams);
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
    var url = form.getAttribute("data-stream");
    if (!url || !canStream || form.hasAttribute("data-stream-off")) return;
    event.preventDefault();
    var submitter = event.submitter || null;
    var data = new URLSearchParams();
    new FormData(form).forEach(function (value, key) { data.append(key, String(value)); });
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    streamAnswer(form, url, data, submitter);
  });

  function resetForm(form) {
    form.removeAttribute("data-submitting");
    form.removeAttribute("aria-busy");
    form.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
    var status = form.querySelector("[data-thinking-status]");
    if (status) status.textContent = "";
    submitting = false;
  }

  function plainSubmit(form, submitter) {
    resetForm(form);
    form.setAttribute("data-stream-off", "");
    if (typeof form.requestSubmit === "function") form.requestSubmit(submitter || undefined);
    else form.submit();
  }

  // The forming step: one element per field, in the order the model writes them.
  function formingView(form) {
    var box = document.getElementById(form.getAttribute("data-forming") || "");
    var text = box && box.querySelector("[data-forming-text]");
    var fields = {};
    var lists = {};
    function list(name) {
      if (!lists[name]) {
        lists[name] = document.createElement("ul");
        text.appendChild(lists[name]);
      }
      return lists[name];
    }
    function element(field) {
      if (fields[field]) return fields[field];
      var node;
      if (/^options\.\d+\.label$/.test(field)) node = list("options").appendChild(document.createElement("li"));
      else if (/^follow_up_recommendations\.\d+$/.test(field)) node = list("follow_ups").appendChild(document.createElement("li"));
      else {
        node = document.createElement("p");
        node.className = {
          content: "step-content", context_message: "hint",
          expected_outcome: "expected", resolution_summary: "resolution"
        }[field] || "";
        text.appendChild(node);
      }
      fields[field] = node;
      return node;
    }
    return {
      show: function () { if (box) box.hidden = false; },
      hide: function () { if (box) box.hidden = true; },
      clear: function () { if (text) text.textContent = ""; fields = {}; lists = {}; },
      add: function (field, piece) {
        if (!text) return;
        this.show();
        element(field).textContent += piece;
      }
    };
  }

  function streamAnswer(form, url, data, submitter) {
    var view = formingView(form);
    var trouble = form.querySelector("[data-stream-trouble]");
    if (trouble) { trouble.hidden = true; trouble.textContent = ""; }
    view.clear();
    var finished = false;
    var streaming = false;
    var page = window.location.pathname;

    function onEvent(name, payload) {
      var body;
      try { body = JSON.parse(payload || "{}"); } catch (e) { return; }
      if (name === "delta") view.add(body.field, body.text);
      else if (name === "restart") view.clear();
      else if (name === "step") {
        finished = true;
        submitting = true;
        window.location.assign(body.location || page);
      } else if (name === "trouble") {
        finished = true;
        // A conflict means the session moved on: the page shows where it stands.
        if (body.status === 409) { submitting = true; window.location.assign(body.location || page); return; }
        view.hide();
        resetForm(form);
        if (trouble) { trouble.textContent = body.message || "Something went wrong; try again."; trouble.hidden = false; }
      }
    }

    fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      redirect: "manual",
      headers: { "Accept": "text/event-stream" }
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (!response.ok || type.indexOf("text/event-stream") !== 0 || !response.body) {
        plainSubmit(form, submitter);
        return;
      }
      streaming = true;
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function dispatch(block) {
        var name = "message";
        var lines = [];
        block.split(/\r?\n/).forEach(function (line) {
          if (line.indexOf("event:") === 0) name = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) lines.push(line.slice(5).replace(/^ /, ""));
        });
        if (lines.length) onEvent(name, lines.join("\n"));
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            if (buffer.trim()) dispatch(buffer);
            // The connection ended without a final event: the page knows where things stand.
            if (!finished) { submitting = true; window.location.assign(page); }
            return;
          }
          buffer += decoder.decode(chunk.value, { stream: true });
          var parts = buffer.split(/\r?\n\r?\n/);
          buffer = parts.pop();
          parts.forEach(dispatch);
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (finished) return;
      // Once the server has the answer, sending it again would answer twice: show the page.
      if (streaming) { submitting = true; window.location.assign(page); }
      else plainSubmit(form, submitter);
    });
  }

  // Coming back with the Back button can restore the page as it was left: undo the above.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    submitting = false;
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      form.removeAttribute("data-submitting");
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
      var status = form.querySelector("[data-thinking-status]");
      if (status) status.textContent = "";
    });
  });

  // data-guard-leave: ask before leaving the page. With the value "dirty" only when a text
  // field inside was changed from what the page was served with.
  function isDirty(scope) {
    var fields = scope.querySelectorAll("textarea, input:not([type=hidden]):not([type=password])");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.value !== field.defaultValue) return true;
    }
    return false;
  }
  window.addEventListener("beforeunload", function (event) {
    if (submitting) return;
    var guarded = document.querySelectorAll("[data-guard-leave]");
    for (var i = 0; i < guarded.length; i++) {
      var scope = guarded[i];
      if (scope.getAttribute("data-guard-leave") !== "dirty" || isDirty(scope)) {
        event.preventDefault();
        event.returnValue = "";
        return;
      }
    }
  });

  // Keys 1-9 pick the n-th option of the current step, unless the user is typing.
  function isTyping(element) {
    if (!element) return false;
    if (element.isContentEditable) return true;
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var type = (element.getAttribute("type") || "text").toLowerCase();
    return ["button", "submit", "reset", "checkbox", "radio", "image", "file", "range", "color"].indexOf(type) === -1;
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.length !== 1 || event.key < "1" || event.key > "9") return;
    if (isTyping(document.activeElement)) return;
    if (document.querySelector("dialog[open]")) return;
    var step = document.querySelector("[data-current-step]");
    if (!step) return;
    var options = step.querySelectorAll("button[name=selected_option]");
    var option = options[Number(event.key) - 1];
    if (!option || option.disabled) return;
    event.preventDefault();
    option.click();
  });

  // Buttons marked data-opens-dialog open their <dialog> in place. Without this script they
  // are ordinary GET forms that reload the page with the dialog shown open.
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var opener = target.closest("[data-opens-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-opens-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") return;
      event.preventDefault();
      if (dialog.open) dialog.close();
      dialog.showModal();
      var first = dialog.querySelector("textarea, select, input:not([type=hidden])");
      if (first) first.focus();
      return;
    }
    var closer = target.closest("[data-closes-dialog]");
    var open = closer && closer.closest("dialog");
    if (open) { event.preventDefault(); open.close(); }
  });

  // A dialog the server rendered open (a resolve or escalate form that came back with an
  // error, or ?dialog=): move the focus into it, onto the field in error if there is one, so
  // keyboard and screen reader users land where the message is rather than at the page's top.
  var served = document.querySelector("dialog[open]");
  if (served) {
    var field = served.querySelector("[aria-invalid=true]") ||
      served.querySelector("textarea, select, input:not([type=hidden])");
    if (field) field.focus();
  }

  // "Copy as Markdown": the button stays hidden without this script, since only a script can
  // reach the clipboard; the markdown itself is on the page and in the download either way.
  document.querySelectorAll("[data-copy-from]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    var status = document.getElementById(button.getAttribute("data-copy-status") || "");
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.textContent;
      var done = function () { if (status) status.textContent = "Copied to the clipboard."; };
      var failed = function () {
        if (status) status.textContent = "Could not copy; select the Markdown below and copy it.";
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, failed);
      } else {
        failed();
      }
    });
  });
})();
