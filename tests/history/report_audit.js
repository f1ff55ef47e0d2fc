// Injected by tests/history/test_report.py after report.js: measures what the page drew, in the
// browser's own layout (text clipped by its SVG, labels on one line that overlap, boxes wider than
// the viewport), and posts the DOM to the harness page that holds the report in an iframe.
(function () {
  var out = { width: window.innerWidth, scroll: document.documentElement.scrollWidth, clipped: [], overlap: [],
              shortened: [], beyond: [] };
  document.querySelectorAll(".chart svg").forEach(function (svg) {
    var vb = svg.viewBox.baseVal, rows = {};
    svg.querySelectorAll("text").forEach(function (t) {
      var b = t.getBBox();
      var outside = b.x < vb.x - 0.5 || b.y < vb.y - 0.5;
      outside = outside || b.x + b.width > vb.x + vb.width + 0.5 || b.y + b.height > vb.y + vb.height + 0.5;
      if (outside) {
        out.clipped.push(t.textContent);
      }
      var title = t.querySelector("title");
      if (title) out.shortened.push([t.childNodes[0].nodeValue, title.textContent]);
      var key = Math.round(b.y);
      (rows[key] = rows[key] || []).push([b.x, b.x + b.width, t.textContent]);
    });
    Object.keys(rows).forEach(function (key) {
      var row = rows[key].sort(function (a, b) { return a[0] - b[0]; });
      for (var i = 1; i < row.length; i++) if (row[i][0] < row[i - 1][1] - 0.5) out.overlap.push([row[i - 1][2], row[i][2]]);
    });
  });
  document.querySelectorAll("section, .chart svg, table").forEach(function (node) {
    var r = node.getBoundingClientRect();
    var scroller = node.closest(".table");
    if (r.right > window.innerWidth + 0.5 && !(scroller && node.tagName === "TABLE")) out.beyond.push(node.tagName + "#" + node.id);
  });
  document.documentElement.setAttribute("data-audit", JSON.stringify(out));
  parent.postMessage(document.documentElement.outerHTML, "*");
})();
