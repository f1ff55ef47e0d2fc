// Draws the report's charts as SVG from the JSON in #report-data. No network, no libraries.
// Every text from the data goes through textContent, never innerHTML. Each chart is drawn at the
// width its box has (and again when the window is resized), so text keeps its size on a phone and
// labels are measured, never clipped: a name too long for its room ends in "…" with the whole
// name in its tooltip.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
  var OTHER = "#bab0ac";
  // Success rate -> colour: red (0%) through amber to blue (100%); most tools live above 80%, so
  // the scale spends most of its steps there. Red and blue stay apart for red-green colour blindness.
  var RATE_STOPS = [[0, [185, 28, 28]], [0.5, [245, 158, 11]], [0.8, [253, 230, 138]], [0.95, [96, 165, 250]], [1, [29, 78, 216]]];

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
    return el("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img" }, container);
  }
  function clear(box) {
    while (box.firstChild) box.removeChild(box.firstChild);
  }
  function widthOf(box) {
    return Math.max(240, Math.floor(box.clientWidth || 720));
  }
  // The widest of these strings as drawn in root with attrs (class decides the font).
  function measure(root, strings, attrs) {
    var widest = 0;
    strings.forEach(function (s) {
      var probe = text(root, 0, 0, s, attrs);
      widest = Math.max(widest, probe.getComputedTextLength());
      root.removeChild(probe);
    });
    return Math.ceil(widest);
  }
  // Shorten a drawn label to maxWidth with "…", keeping the whole text in its tooltip.
  function fit(node, maxWidth) {
    var full = node.textContent;
    if (node.getComputedTextLength() <= maxWidth) return node;
    var keep = full.length;
    while (keep > 1 && node.getComputedTextLength() > maxWidth) {
      keep--;
      node.textContent = full.slice(0, keep) + "…";
    }
    tip(node, full);
    return node;
  }
  function niceMax(value) {
    if (value <= 0) return 1;
    var step = Math.pow(10, Math.floor(Math.log10(value)));
    var m = [1, 2, 2.5, 5, 10].find(function (f) { return f * step >= value; });
    return m * step;
  }
  function fmt(n) { return n >= 10000 ? Math.round(n / 1000) + "k" : String(Math.round(n * 100) / 100); }
  function pct(rate) { return Math.round(rate * 100) + "%"; }
  function rateColour(rate) {
    for (var i = 1; i < RATE_STOPS.length; i++) {
      var hi = RATE_STOPS[i];
      if (rate <= hi[0]) {
        var lo = RATE_STOPS[i - 1], t = (rate - lo[0]) / (hi[0] - lo[0]);
        var rgb = lo[1].map(function (c, k) { return Math.round(c + t * (hi[1][k] - c)); });
        return "rgb(" + rgb.join(",") + ")";
      }
    }
    return "rgb(" + RATE_STOPS[RATE_STOPS.length - 1][1].join(",") + ")";
  }
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
  // Day labels under a band of days from x0 to x1, as many as fit without touching.
  function dayLabels(root, x0, x1, y) {
    var n = data.window.length, band = (x1 - x0) / n;
    var every = Math.max(1, Math.ceil((measure(root, ["00-00"], {}) + 10) / band));
    data.window.forEach(function (day, d) {
      if (d % every === 0) text(root, x0 + band * (d + 0.5), y, day.slice(5), { "text-anchor": "middle" });
    });
    return band;
  }
  // Axes for a day-by-day chart: returns x(dayIndex) (band start), band width and y(value).
  function dayAxes(root, W, H, M, yMax, yLabel) {
    var y = function (v) { return H - M.b - (v / yMax) * (H - M.t - M.b); };
    for (var k = 0; k <= 4; k++) {
      var v = (yMax * k) / 4;
      el("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), class: "grid" }, root);
      text(root, M.l - 6, y(v) + 4, yLabel(v), { "text-anchor": "end" });
    }
    var band = dayLabels(root, M.l, W - M.r, H - M.b + 16);
    el("line", { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b, class: "axis" }, root);
    return { x: function (d) { return M.l + band * d; }, band: band, y: y };
  }

  function drawCalls() {
    var box = document.getElementById("chart-calls");
    clear(box);
    var lines = series();
    var totals = data.window.map(function (_, d) { return lines.reduce(function (s, l) { return s + l.calls[d]; }, 0); });
    if (!totals.some(function (t) { return t > 0; })) return empty(box, "No calls in this window.");
    var W = widthOf(box), H = Math.round(Math.min(280, Math.max(200, W * 0.45)));
    var root = svg(box, W, H);
    var yMax = niceMax(Math.max.apply(null, totals));
    var M = { t: 12, r: 12, b: 28, l: 10 + measure(root, [fmt(yMax)], {}) };
    var ax = dayAxes(root, W, H, M, yMax, fmt);
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

  // A heatmap: one row per tool, one cell per day, coloured by that day's success rate; an empty
  // cell is a day without calls. Each row ends with the tool's rate over the window.
  function drawSuccess() {
    var box = document.getElementById("chart-success");
    clear(box);
    var rows = series().filter(function (l) { return l.calls.some(function (n) { return n > 0; }); });
    if (!rows.length) return empty(box, "No calls in this window.");
    var W = widthOf(box), rowH = 24, M = { t: 4, b: 24 };
    var root = svg(box, W, M.t + rows.length * rowH + M.b);
    var overall = rows.map(function (line) {
      var n = line.calls.reduce(function (a, b) { return a + b; }, 0);
      var ok = line.successes.reduce(function (a, b) { return a + b; }, 0);
      return { n: n, ok: ok, label: pct(ok / n) + " of " + fmt(n) };
    });
    M.r = 8 + measure(root, overall.map(function (o) { return o.label; }), {});
    var names = rows.map(function (l) { return l.name; });
    M.l = 8 + Math.min(measure(root, names, { class: "label" }), Math.floor(W * 0.35));
    var band = dayLabels(root, M.l, W - M.r, M.t + rows.length * rowH + 16);
    var showValues = band >= measure(root, ["100%"], { class: "cell-value" }) + 6;
    var marks = 0;
    rows.forEach(function (line, r) {
      var y0 = M.t + r * rowH;
      fit(text(root, M.l - 8, y0 + rowH / 2 + 4, line.name, { "text-anchor": "end", class: "label" }), M.l - 8);
      line.calls.forEach(function (n, d) {
        var x = M.l + band * d;
        if (!n) {
          el("rect", { class: "no-calls", x: x + 0.5, y: y0 + 1, width: Math.max(0.5, band - 1), height: rowH - 3 }, root);
          return;
        }
        var rate = line.successes[d] / n;
        var cell = el("rect", {
          class: "cell", x: x + 0.5, y: y0 + 1, width: Math.max(0.5, band - 1), height: rowH - 3, fill: rateColour(rate),
        }, root);
        tip(cell, data.window[d] + " · " + line.name + ": " + pct(rate) + " of " + n + " call(s)");
        if (showValues) {
          text(root, x + band / 2, y0 + rowH / 2 + 3, pct(rate), {
            "text-anchor": "middle", class: "cell-value" + (rate < 0.3 || rate > 0.9 ? " on-dark" : ""),
          });
        }
        marks++;
      });
      text(root, W - M.r + 8, y0 + rowH / 2 + 4, overall[r].label, {});
    });
    legend(box, ["0%", "50%", "80%", "95%", "100%", "no calls"],
      [rateColour(0), rateColour(0.5), rateColour(0.8), rateColour(0.95), rateColour(1), "#f3f4f6"]);
    drawn(box, marks);
  }

  function drawLatency(tool) {
    var box = document.getElementById("chart-latency");
    clear(box);
    var bounds = data.latency.bounds_ms;
    var tools = tool ? [tool] : data.tools;
    var counts = null;
    tools.forEach(function (t) {
      var b = data.latency.per_tool[t] || [];
      counts = counts ? counts.map(function (c, i) { return c + (b[i] || 0); }) : b.slice();
    });
    if (!counts || !counts.some(function (c) { return c > 0; })) return empty(box, "No calls in this window.");
    var W = widthOf(box), H = Math.round(Math.min(260, Math.max(190, W * 0.4)));
    var root = svg(box, W, H);
    var yMax = niceMax(Math.max.apply(null, counts));
    var labels = counts.map(function (_, i) {
      return i < bounds.length ? "≤" + fmt(bounds[i]) : ">" + fmt(bounds[bounds.length - 1]);
    });
    var labelW = measure(root, labels, {});
    var M = { t: 12, b: 40, l: 10 + measure(root, [fmt(yMax)], {}), r: Math.ceil(labelW / 2) + 4 };
    var band = (W - M.l - M.r) / counts.length;
    // Labels on two rows when one row has no room; every k-th bucket labelled so none touch.
    var every = Math.max(1, Math.ceil((labelW + 6) / (2 * band)));
    var y = function (v) { return H - M.b - (v / yMax) * (H - M.t - M.b); };
    for (var k = 0; k <= 4; k++) {
      el("line", { x1: M.l, x2: W - M.r, y1: y((yMax * k) / 4), y2: y((yMax * k) / 4), class: "grid" }, root);
      text(root, M.l - 6, y((yMax * k) / 4) + 4, fmt((yMax * k) / 4), { "text-anchor": "end" });
    }
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    var marks = 0;
    counts.forEach(function (c, i) {
      if (i % every === 0) {
        var row = (i / every) % 2;
        text(root, M.l + band * (i + 0.5), H - M.b + 14 + row * 13, labels[i], { "text-anchor": "middle" });
      }
      if (!c) return;
      var bar = el("rect", {
        class: "bar", x: M.l + band * i + 1, width: Math.max(0.5, band - 2), y: y(c), height: Math.max(0.5, y(0) - y(c)), fill: PALETTE[0],
      }, root);
      tip(bar, labels[i] + " ms: " + c + " call(s), " + Math.round((1000 * c) / total) / 10 + "%");
      marks++;
    });
    el("line", { x1: M.l, x2: W - M.r, y1: y(0), y2: y(0), class: "axis" }, root);
    drawn(box, marks);
  }

  function drawUsers() {
    var box = document.getElementById("chart-users");
    clear(box);
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
      if (!user.tools.length) {
        var none = document.createElement("p");
        none.className = "empty";
        none.textContent = "Only plugyard's own history tools so far.";
        card.appendChild(none);
        return;
      }
      var rowH = 22, W = Math.max(220, Math.floor(card.clientWidth || 320)), H = user.tools.length * rowH + 4;
      var root = svg(card, W, H);
      var values = user.tools.map(function (t) {
        return pct(t.score) + (t.satisfaction == null ? "" : " ★" + t.satisfaction.toFixed(1));
      });
      var R = 8 + measure(root, values, {});
      var L = 8 + Math.min(measure(root, user.tools.map(function (t) { return t.tool_name; }), { class: "label" }), Math.floor(W * 0.4));
      var track = Math.max(20, W - L - R);
      user.tools.forEach(function (t, i) {
        var y0 = 2 + i * rowH;
        fit(text(root, L - 6, y0 + 14, t.tool_name, { "text-anchor": "end", class: "label" }), L - 8);
        el("rect", { x: L, y: y0 + 3, width: track, height: rowH - 8, fill: "#f1f5f9" }, root);
        var bar = el("rect", {
          class: "bar", x: L, y: y0 + 3, width: Math.max(1, track * t.score), height: rowH - 8,
          fill: PALETTE[i % PALETTE.length],
        }, root);
        var sat = t.satisfaction == null ? "" : ", rated " + t.satisfaction.toFixed(1) + "/5";
        tip(bar, t.tool_name + ": estimate " + pct(t.score) + ", " + t.calls + " call(s), " +
          pct(t.success_rate) + " succeeded" + sat);
        text(root, L + track + 6, y0 + 14, values[i]);
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

  function drawAll() {
    drawCalls();
    drawSuccess();
    drawLatency(select.value);
    drawUsers();
  }
  drawAll();
  var pending = false, drawnAt = window.innerWidth;
  window.addEventListener("resize", function () {
    if (pending || window.innerWidth === drawnAt) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      drawnAt = window.innerWidth;
      drawAll();
    });
  });
  document.documentElement.setAttribute("data-charts", "drawn");
})();
