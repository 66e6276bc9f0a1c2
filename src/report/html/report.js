// kspy HTML report: fills a scenario's details panel from the marks' JSON
// and filters the sections. Data is only ever inserted as text.
(function () {
  "use strict";
  var marks = {};
  try { marks = JSON.parse(document.getElementById("kspy-marks").textContent); } catch (e) { marks = {}; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function list(items, cls) {
    var ul = el("ul", cls);
    items.forEach(function (item) { ul.appendChild(el("li", null, item)); });
    return ul;
  }

  function diffBlock(text) {
    var pre = el("pre", "diff");
    text.split("\n").forEach(function (line) {
      var cls = null;
      if (line.indexOf("@@") === 0) cls = "hunk";
      else if (line.charAt(0) === "+" && line.indexOf("+++") !== 0) cls = "add";
      else if (line.charAt(0) === "-" && line.indexOf("---") !== 0) cls = "del";
      pre.appendChild(el("span", cls, line + "\n"));
    });
    return pre;
  }

  function show(markNode) {
    var details = marks[markNode.getAttribute("data-mark")];
    var section = markNode.closest("details.scenario");
    if (!details || !section) return;
    var panel = section.querySelector(".panel");
    section.querySelectorAll(".selected").forEach(function (n) { n.classList.remove("selected"); });
    markNode.classList.add("selected");
    panel.textContent = "";
    panel.appendChild(el("h3", null, details.title));
    if (details.lines.length) panel.appendChild(list(details.lines, "lines"));
    if (details.changes.length) {
      panel.appendChild(el("div", "meta", "changes"));
      panel.appendChild(list(details.changes, "changes"));
    }
    if (details.note) panel.appendChild(el("pre", "why failed", details.note));
    if (details.diff) {
      panel.appendChild(el("div", "meta", details.diff_title || "diff"));
      panel.appendChild(diffBlock(details.diff));
    }
    panel.appendChild(el("div", "meta", details.events.length ? "events of that moment" : "no events at that moment"));
    if (details.events.length) panel.appendChild(list(details.events, "events-list"));
  }

  document.addEventListener("click", function (e) {
    var node = e.target.closest("[data-mark]");
    if (node) show(node);
  });

  // Failed scenarios open on their failure.
  document.querySelectorAll("details.scenario[open]").forEach(function (section) {
    var failure = section.querySelector("[data-failure]");
    if (failure) show(failure);
  });

  var filter = document.getElementById("filter");
  var onlyFailures = document.getElementById("only-failures");
  function applyFilter() {
    var text = filter.value.toLowerCase();
    document.querySelectorAll("details.scenario, table.summary tbody tr").forEach(function (node) {
      var name = (node.getAttribute("data-name") || "").toLowerCase();
      var hide = (text && name.indexOf(text) < 0) || (onlyFailures.checked && node.classList.contains("passed"));
      node.classList.toggle("hidden", !!hide);
    });
  }
  filter.addEventListener("input", applyFilter);
  onlyFailures.addEventListener("change", applyFilter);
  document.getElementById("expand").addEventListener("click", function () {
    document.querySelectorAll("details.scenario").forEach(function (d) { d.open = true; });
  });
  document.getElementById("collapse").addEventListener("click", function () {
    document.querySelectorAll("details.scenario").forEach(function (d) { d.open = false; });
  });
  document.body.classList.add("js");
})();
