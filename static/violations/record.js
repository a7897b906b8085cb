/* Admin "record violation" form: the rule pre-selects its default sanctions, and a panel shows what the
   escalation ladder will add (fetched from violations:preview). No inline scripts (CSP-friendly). */
(function () {
  "use strict";

  function field(name) { return document.querySelector('[name="' + name + '"]'); }

  function label(key) { return field("rule").getAttribute("data-label-" + key) || key; }

  function kinds() {
    return Array.prototype.map.call(
      document.querySelectorAll('input[name="sanction_kinds"]:checked'), function (el) { return el.value; });
  }

  function occurredAt() {
    var date = field("occurred_at_0"), time = field("occurred_at_1");
    return date && date.value ? date.value + " " + (time && time.value ? time.value : "00:00") : "";
  }

  function panel() {
    var el = document.getElementById("ladder-preview");
    if (!el) {
      el = document.createElement("div");
      el.id = "ladder-preview";
      el.className = "ladder-preview empty";
      el.setAttribute("aria-live", "polite");
      var anchor = document.querySelector(".field-sanction_kinds") || document.querySelector("fieldset");
      anchor.parentNode.insertBefore(el, anchor.nextSibling);
    }
    return el;
  }

  function show(sentences, message) {
    var el = panel();
    el.textContent = "";
    var title = document.createElement("h3");
    title.textContent = message || label(sentences.length ? "adds" : "none");
    el.appendChild(title);
    var list = document.createElement("ul");
    sentences.forEach(function (s) { var li = document.createElement("li"); li.textContent = s; list.appendChild(li); });
    el.appendChild(list);
    el.className = "ladder-preview" + (sentences.length ? "" : " empty");
  }

  function showDuplicates(items) {
    var el = document.getElementById("duplicate-preview");
    if (!el) {
      el = document.createElement("div");
      el.id = "duplicate-preview";
      el.className = "duplicate-preview";
      el.setAttribute("aria-live", "polite");
      var anchor = document.querySelector(".field-description");
      if (!anchor) { return; }
      anchor.parentNode.insertBefore(el, anchor.nextSibling);
    }
    el.textContent = "";
    el.hidden = !items.length;
    if (!items.length) { return; }
    var title = document.createElement("h3");
    title.textContent = label("duplicates");
    el.appendChild(title);
    var list = document.createElement("ul");
    items.forEach(function (item) {
      var li = document.createElement("li"), a = document.createElement("a");
      a.href = item.url; a.target = "_blank"; a.rel = "noopener"; a.textContent = item.text;
      li.appendChild(a); list.appendChild(li);
    });
    el.appendChild(list);
  }

  function fetchPreview(applyDefaults) {
    var rule = field("rule"), employee = field("employee"), group = field("group"), text = field("description");
    if (!rule || !rule.value) { show([], label("choose")); return; }
    var params = new URLSearchParams({ rule: rule.value, employee: employee ? employee.value : "",
                                       occurred_at: occurredAt(), group: group ? group.value : "",
                                       description: text ? text.value : "" });
    if (!applyDefaults) { params.set("kinds", kinds().join(",")); }
    fetch(rule.getAttribute("data-preview-url") + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) { show([], data.error); return; }
        if (applyDefaults) {
          document.querySelectorAll('input[name="sanction_kinds"]').forEach(function (box) {
            box.checked = data.defaults.indexOf(box.value) !== -1;
          });
          var fine = field("fine_amount");
          if (fine && !fine.value && data.defaults.indexOf("fine") !== -1) { fine.value = data.fine_amount; }
        }
        show(data.sentences);
        showDuplicates(data.duplicates || []);
      })
      .catch(function () { show([], label("unavailable")); });
  }

  function on(el, handler) {
    if (!el) { return; }
    el.addEventListener("change", handler);
    if (window.django && window.django.jQuery) { window.django.jQuery(el).on("select2:select", handler); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!field("sanction_kinds") || !field("rule")) { return; }  // only the add form
    on(field("rule"), function () { fetchPreview(true); });
    on(field("employee"), function () { fetchPreview(false); });
    ["occurred_at_0", "occurred_at_1", "group", "description"].forEach(function (n) {
      on(field(n), function () { fetchPreview(false); });
    });
    document.querySelectorAll('input[name="sanction_kinds"]').forEach(function (box) {
      box.addEventListener("change", function () { fetchPreview(false); });
    });
    fetchPreview(!kinds().length);
  });
})();
