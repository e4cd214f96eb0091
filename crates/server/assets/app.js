// FlowPilot's own progressive enhancement. Every page works without this file; it only adds
// comfort: a "thinking" state on slow forms, a guard against losing typed text, and number
// keys for answering a step.
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
