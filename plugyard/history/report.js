// Draws the report's charts as SVG from the JSON in #report-data. No network, no libraries.
// Every text from the data goes through textContent, never innerHTML.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
  var OTHER = "#bab0ac";

  window.addEventListener("error", function (event) {
    var box = document.getElementById("report-error");
    box.hidden = false;
    box.textContent = "A chart could not be drawn: " + event.message;
    document.documentElement.setAttribute("data-report-error", String(event.message));
  });

  var data = JSON.parse(document.getElementById("report-data").textContent);

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, content, attrs) {
    var node = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }
  function tip(node, content) {
    el("title", {}, node).textContent = content;
  }
  function svg(container, width, height) {
    return el("svg", { viewBox: "0 0 " + width + " " + height, role: "img" }, container);
  }
  function niceMax(value) {
    if (value <= 0) return 1;
    var step = Math.pow(10, Math.floor(Math.log10(value)));
    var m = [1, 2, 2.5, 5, 10].find(function (f) { return f * step >= value; });
    return m * step;
  }
  function fmt(n) { return n >= 10000 ? Math.round(n / 1000) + "k" : String(Math.round(n * 100) / 100); }
  function legend(container, names, colours) {
    var box = document.createElement("div");
    box.className = "legend";
    names.forEach(function (name, i) {
      var item = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = colours[i];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(name));
      box.appendChild(item);
    });
    container.appendChild(box);
  }
  function empty(container, message) {
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = message;
    container.appendChild(p);
    container.setAttribute("data-drawn", "empty");
  }
  function drawn(container, marks) {
    container.setAttribute("data-drawn", "true");
    container.setAttribute("data-marks", String(marks));
  }
  // The most-called tools by name, the rest as "other": [{name, colour, calls[], successes[]}].
  function series() {
    var top = data.tools.slice(0, data.top_tools);
    var out = top.map(function (tool, i) {
      return { name: tool, colour: PALETTE[i % PALETTE.length], calls: data.daily[tool].calls, successes: data.daily[tool].successes };
    });
    var rest = data.tools.slice(data.top_tools);
    if (rest.length) {
      var calls = data.window.map(function () { return 0; });
      var ok = data.window.map(function () { return 0; });
      rest.forEach(function (tool) {
        data.daily[tool].calls.forEach(function (n, d) { calls[d] += n; ok[d] += data.daily[tool].successes[d]; });
      });
      out.push({ name: "other (" + rest.length + ")", colour: OTHER, calls: calls, successes: ok });
    }
    return out;
  }
  // Axes for a day-by-day chart: returns x(dayIndex) (band start), band width and y(value).
  function dayAxes(root, W, H, M, yMax, yLabel) {
    var n = data.window.length;
    var band = (W - M.l - M.r) / n;
    var y = function (v) { return H - M.b - (v / yMax) * (H - M.t - M.b); };
    for (var k = 0; k <= 4; k++) {
      var v = (yMax * k) / 4;
      el("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), class: "grid" }, root);
      text(root, M.l - 6, y(v) + 4, yLabel(v), { "text-anchor": "end" });
    }
    var every = Math.max(1, Math.ceil(n / 10));
    data.window.forEach(function (day, d) {
      if (d % every === 0 || d === n - 1) {
        text(root, M.l + band * (d + 0.5), H - M.b + 16, day.slice(5), { "text-anchor": "middle" });
      }
    });
    el("line", { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b, class: "axis" }, root);
    return { x: function (d) { return M.l + band * d; }, band: band, y: y };
  }

  function drawCalls() {
    var box = document.getElementById("chart-calls");
    var lines = series();
    var totals = data.window.map(function (_, d) { return lines.reduce(function (s, l) { return s + l.calls[d]; }, 0); });
    if (!totals.some(function (t) { return t > 0; })) return empty(box, "No calls in this window.");
    var W = 720, H = 280, M = { t: 12, r: 12, b: 28, l: 48 };
    var root = svg(box, W, H);
    var ax = dayAxes(root, W, H, M, niceMax(Math.max.apply(null, totals)), fmt);
    var marks = 0;
    data.window.forEach(function (day, d) {
      var base = 0;
      lines.forEach(function (line) {
        var n = line.calls[d];
        if (!n) return;
        var bar = el("rect", {
          class: "bar", x: ax.x(d) + ax.band * 0.12, width: Math.max(1, ax.band * 0.76),
          y: ax.y(base + n), height: Math.max(0.5, ax.y(base) - ax.y(base + n)), fill: line.colour,
        }, root);
        tip(bar, day + " · " + line.name + ": " + n + " call(s), " + line.successes[d] + " succeeded");
        base += n;
        marks++;
      });
    });
    legend(box, lines.map(function (l) { return l.name; }), lines.map(function (l) { return l.colour; }));
    drawn(box, marks);
  }

  function drawSuccess() {
    var box = document.getElementById("chart-success");
    var lines = series();
    if (!lines.some(function (l) { return l.calls.some(function (n) { return n > 0; }); })) {
      return empty(box, "No calls in this window.");
    }
    var W = 720, H = 280, M = { t: 12, r: 12, b: 28, l: 48 };
    var root = svg(box, W, H);
    var ax = dayAxes(root, W, H, M, 1, function (v) { return Math.round(v * 100) + "%"; });
    var marks = 0;
    lines.forEach(function (line) {
      var path = "", pen = false;
      line.calls.forEach(function (n, d) {
        if (!n) { pen = false; return; }
        var px = ax.x(d) + ax.band / 2, py = ax.y(line.successes[d] / n);
        path += (pen ? "L" : "M") + px.toFixed(1) + "," + py.toFixed(1);
        pen = true;
        var dot = el("circle", { class: "point", cx: px, cy: py, r: 2.5, fill: line.colour }, root);
        tip(dot, data.window[d] + " · " + line.name + ": " + Math.round((100 * line.successes[d]) / n) + "% of " + n);
        marks++;
      });
      el("path", { class: "line", d: path, fill: "none", stroke: line.colour, "stroke-width": 2 }, root);
    });
    legend(box, lines.map(function (l) { return l.name; }), lines.map(function (l) { return l.colour; }));
    drawn(box, marks);
  }

  function drawLatency(tool) {
    var box = document.getElementById("chart-latency");
    while (box.firstChild) box.removeChild(box.firstChild);
    var bounds = data.latency.bounds_ms;
    var tools = tool ? [tool] : data.tools;
    var counts = null;
    tools.forEach(function (t) {
      var b = data.latency.per_tool[t] || [];
      counts = counts ? counts.map(function (c, i) { return c + (b[i] || 0); }) : b.slice();
    });
    if (!counts || !counts.some(function (c) { return c > 0; })) return empty(box, "No calls in this window.");
    var W = 720, H = 260, M = { t: 12, r: 12, b: 40, l: 48 };
    var root = svg(box, W, H);
    var yMax = niceMax(Math.max.apply(null, counts));
    var band = (W - M.l - M.r) / counts.length;
    var y = function (v) { return H - M.b - (v / yMax) * (H - M.t - M.b); };
    for (var k = 0; k <= 4; k++) {
      el("line", { x1: M.l, x2: W - M.r, y1: y((yMax * k) / 4), y2: y((yMax * k) / 4), class: "grid" }, root);
      text(root, M.l - 6, y((yMax * k) / 4) + 4, fmt((yMax * k) / 4), { "text-anchor": "end" });
    }
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    var marks = 0;
    counts.forEach(function (c, i) {
      var label = i < bounds.length ? "≤" + fmt(bounds[i]) : ">" + fmt(bounds[bounds.length - 1]);
      if (i % 2 === 0) {
        text(root, M.l + band * (i + 0.5), H - M.b + 14 + (i % 4 === 0 ? 0 : 12), label, { "text-anchor": "middle" });
      }
      if (!c) return;
      var bar = el("rect", {
        class: "bar", x: M.l + band * i + 1, width: band - 2, y: y(c), height: Math.max(0.5, y(0) - y(c)), fill: PALETTE[0],
      }, root);
      tip(bar, label + " ms: " + c + " call(s), " + Math.round((1000 * c) / total) / 10 + "%");
      marks++;
    });
    el("line", { x1: M.l, x2: W - M.r, y1: y(0), y2: y(0), class: "axis" }, root);
    drawn(box, marks);
  }

  function drawUsers() {
    var box = document.getElementById("chart-users");
    if (!data.users.length) return empty(box, "No user has called a tool yet.");
    var grid = document.createElement("div");
    grid.className = "users";
    box.appendChild(grid);
    var marks = 0;
    data.users.forEach(function (user) {
      var card = document.createElement("div");
      card.className = "user";
      var h = document.createElement("h3");
      h.textContent = user.user_id + " · " + user.calls + " call(s)";
      card.appendChild(h);
      grid.appendChild(card);
      var rowH = 22, W = 320, L = 110, H = Math.max(1, user.tools.length) * rowH + 4;
      var root = svg(card, W, H);
      user.tools.forEach(function (t, i) {
        var y0 = 2 + i * rowH;
        var name = t.tool_name.length > 16 ? t.tool_name.slice(0, 15) + "…" : t.tool_name;
        text(root, L - 6, y0 + 14, name, { "text-anchor": "end", class: "label" });
        el("rect", { x: L, y: y0 + 3, width: W - L - 60, height: rowH - 8, fill: "#f1f5f9" }, root);
        var bar = el("rect", {
          class: "bar", x: L, y: y0 + 3, width: Math.max(1, (W - L - 60) * t.score), height: rowH - 8,
          fill: PALETTE[i % PALETTE.length],
        }, root);
        var sat = t.satisfaction == null ? "" : ", rated " + t.satisfaction.toFixed(1) + "/5";
        tip(bar, t.tool_name + ": estimate " + Math.round(t.score * 100) + "%, " + t.calls + " call(s), " +
          Math.round(t.success_rate * 100) + "% succeeded" + sat);
        text(root, W - 54, y0 + 14, Math.round(t.score * 100) + "%" + (t.satisfaction == null ? "" : " ★" + t.satisfaction.toFixed(1)));
        marks++;
      });
    });
    drawn(box, marks);
  }

  var select = document.getElementById("latency-tool");
  [""].concat(data.tools).forEach(function (tool) {
    var option = document.createElement("option");
    option.value = tool;
    option.textContent = tool || "every tool";
    select.appendChild(option);
  });
  select.addEventListener("change", function () { drawLatency(select.value); });

  drawCalls();
  drawSuccess();
  drawLatency("");
  drawUsers();
  document.documentElement.setAttribute("data-charts", "drawn");
})();
