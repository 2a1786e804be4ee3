/* OutcomePortal — the little JavaScript the portal needs: dashboard charts (Plotly, vendored),
   polite htmx behaviour (busy state, focus after paging) and the print button. Every page works
   without it. No template holds inline script (Content-Security-Policy): data comes from
   json_script blocks and data- attributes. */
(function () {
  "use strict";

  var STATUS_COLORS = {
    pending: "#8c9ee8",
    billable: "#2e9e5b",
    non_billable: "#e0675f",
    invoiced: "#1d6b40",
    disputed: "#e3a23b",
    credited: "#8a6ad6"
  };
  var FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif", size: 12, color: "#384152" };
  var GRID = "#edf0f5";
  var SYMBOLS = { USD: "$", EUR: "€", GBP: "£", CAD: "CA$", AUD: "A$", JPY: "¥" };

  function baseLayout(extra) {
    var layout = {
      font: FONT,
      margin: { l: 48, r: 16, t: 8, b: 36 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      hoverlabel: { font: FONT, bgcolor: "#fff", bordercolor: "#d5dbe5" },
      legend: { orientation: "h", x: 0, y: 1.12, font: FONT },
      bargap: 0.25
    };
    for (var key in extra) { layout[key] = extra[key]; }
    return layout;
  }

  var CONFIG = { displayModeBar: false, responsive: true };

  // Day ticks that never collide: as many as the chart's width holds (about 56 px a label), at a step
  // of 1, 2 or 7 days or whole weeks beyond, so that a 90-day chart on a phone reads "Sep 7 · Oct 5".
  function dayStep(n, width) {
    var room = Math.max(2, Math.floor((width || 600) / 56));
    var step = Math.ceil(n / room);
    if (step <= 1) { return 1; }
    if (step <= 2) { return 2; }
    return 7 * Math.ceil(step / 7);
  }

  function dateAxis(data, el) {
    var day = 86400000;
    return {
      type: "date",
      tickformat: "%b %-d",
      tickangle: 0,
      dtick: dayStep(data.days.length, el && el.clientWidth) * day,
      gridcolor: GRID,
      showgrid: false,
      linecolor: "#d5dbe5",
      ticks: "outside",
      tickcolor: "#d5dbe5",
      hoverformat: "%a %b %-d, %Y"
    };
  }

  // On a narrow screen the legend goes under the chart, where it can take two lines.
  function legendFor(el) {
    if (el && el.clientWidth < 560) { return { orientation: "h", x: 0, y: -0.18, yanchor: "top", font: FONT }; }
    return { orientation: "h", x: 0, y: 1.12, font: FONT };
  }

  function drawOutcomes(el, data) {
    var traces = data.statuses.map(function (s) {
      return {
        type: "bar",
        name: s.label,
        x: data.days,
        y: s.counts,
        marker: { color: STATUS_COLORS[s.status] || "#999" },
        hovertemplate: "%{y:,} " + s.label.toLowerCase() + "<extra></extra>"
      };
    });
    Plotly.newPlot(el, traces, baseLayout({
      barmode: "stack",
      hovermode: "x unified",
      legend: legendFor(el),
      margin: { l: 48, r: 16, t: 8, b: el.clientWidth < 560 ? 96 : 36 },
      xaxis: dateAxis(data, el),
      yaxis: { gridcolor: GRID, zeroline: false, rangemode: "tozero", tickformat: ",d", title: { text: "Outcomes", font: FONT } }
    }), CONFIG);
  }

  function drawReasons(el, data) {
    var rows = data.reasons.slice().reverse(); // largest on top
    // A phone has no room for a whole reason beside its bar: the label is cut, the hover says it all.
    var cut = el.clientWidth < 560 ? 24 : 80;
    function short(text) { return text.length > cut ? text.slice(0, cut - 1) + "…" : text; }
    el.style.height = Math.max(240, 30 * rows.length + 50) + "px";
    Plotly.newPlot(el, [{
      type: "bar",
      orientation: "h",
      x: rows.map(function (r) { return r.count; }),
      y: rows.map(function (r) { return short(r.label); }),
      customdata: rows.map(function (r) { return [r.code, r.label]; }),
      marker: { color: "#e0675f" },
      hovertemplate: "%{customdata[1]}: %{x:,}<extra></extra>"
    }], baseLayout({
      margin: { l: 8, r: 16, t: 8, b: 36 },
      xaxis: { gridcolor: GRID, zeroline: false, tickformat: ",d", rangemode: "tozero" },
      yaxis: { automargin: true, ticksuffix: "  " },
      showlegend: false,
      bargap: 0.3
    }), CONFIG);
    // A bar opens the events behind it.
    el.on("plotly_click", function (event) {
      var code = event.points && event.points[0] && event.points[0].customdata[0];
      var row = data.reasons.filter(function (r) { return r.code === code; })[0];
      if (row) { window.location.href = row.url; }
    });
  }

  // The period under way: its cap as a dashed line, and a dotted line from today's charges to the
  // month-end amount the run rate projects (both on the cumulative axis).
  function capTraces(data, symbol, suffix) {
    var traces = [], first = data.days[0], last = data.days[data.days.length - 1];
    if (data.cap !== null && data.cap !== undefined) {
      traces.push({
        type: "scatter", mode: "lines", name: "Cap", x: [first, last], y: [Number(data.cap), Number(data.cap)],
        yaxis: "y2", line: { color: "#c2410c", width: 2, dash: "dash" },
        hovertemplate: "Cap " + symbol + "%{y:,.2f}" + suffix + "<extra></extra>"
      });
    }
    if (data.forecast) {
      var today = data.days.indexOf(data.today);
      var from = today >= 0 ? Number(data.cumulative[today]) : 0;
      traces.push({
        type: "scatter", mode: "lines", name: "Forecast", x: [data.today, data.forecast.to_day],
        y: [from, Number(data.forecast.amount)], yaxis: "y2", line: { color: "#1d39c4", width: 2, dash: "dot" },
        hovertemplate: "Forecast " + symbol + "%{y:,.2f}" + suffix + "<extra></extra>"
      });
    }
    return traces;
  }

  function drawSpend(el, data) {
    var symbol = SYMBOLS[data.currency] || "";
    var suffix = symbol ? "" : " " + data.currency;
    Plotly.newPlot(el, [
      {
        type: "bar",
        name: "Added that day",
        x: data.days,
        y: data.spend.map(Number),
        marker: { color: "#7d97f5" },
        hovertemplate: symbol + "%{y:,.2f}" + suffix + " that day<extra></extra>"
      },
      {
        type: "scatter",
        mode: "lines",
        name: "Month so far",
        x: data.days,
        // The line stops today: days still to come have no charges yet, not a flat line.
        y: data.cumulative.map(function (v, i) { return data.days[i] > data.today ? null : Number(v); }),
        yaxis: "y2",
        line: { color: "#1d39c4", width: 2.5, shape: "hv" },
        hovertemplate: symbol + "%{y:,.2f}" + suffix + " so far<extra></extra>"
      }
    ].concat(capTraces(data, symbol, suffix)), baseLayout({
      hovermode: "x unified",
      legend: legendFor(el),
      margin: { l: 56, r: 64, t: 8, b: el.clientWidth < 560 ? 72 : 36 },
      xaxis: dateAxis(data, el),
      yaxis: { gridcolor: GRID, zeroline: false, rangemode: "tozero", tickprefix: symbol, ticksuffix: suffix, tickformat: ",.0f", title: { text: "Per day", font: FONT } },
      yaxis2: { overlaying: "y", side: "right", rangemode: "tozero", showgrid: false, tickprefix: symbol, ticksuffix: suffix, tickformat: ",.0f", title: { text: "Cumulative", font: FONT } }
    }), CONFIG);
  }

  function drawCharts() {
    if (typeof Plotly === "undefined") { return; }
    // Money comes from billing's panel, with its own figures: the invoice's charges day by day.
    var spend = document.getElementById("spend-data");
    var spendEl = document.getElementById("chart-spend");
    if (spend && spendEl) { drawSpend(spendEl, JSON.parse(spend.textContent)); spendEl.classList.add("drawn"); }
    var source = document.getElementById("chart-data");
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var charts = [["chart-outcomes", drawOutcomes], ["chart-reasons", drawReasons]];
    charts.forEach(function (pair) {
      var el = document.getElementById(pair[0]);
      if (el) { pair[1](el, data); el.classList.add("drawn"); }
    });
  }

  document.addEventListener("DOMContentLoaded", drawCharts);
  // The ticks and legends depend on the width: draw again when the window changes size.
  var resizeTimer = null, drawnWidth = window.innerWidth;
  window.addEventListener("resize", function () {
    if (window.innerWidth === drawnWidth) { return; }
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () { drawnWidth = window.innerWidth; drawCharts(); }, 250);
  });

  // Tables wider than their card scroll inside it: a scrolling box is made a labelled, focusable
  // region, so that the keyboard can scroll it too (WCAG 2.1.1); a box that fits is left alone.
  function labelScrollers(root) {
    var boxes = (root || document).querySelectorAll(".table-wrap");
    Array.prototype.forEach.call(boxes, function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      if (!scrolls) {
        if (box.hasAttribute("data-scroller")) {
          box.removeAttribute("tabindex"); box.removeAttribute("role"); box.removeAttribute("data-scroller");
        }
        return;
      }
      if (box.hasAttribute("tabindex")) { return; }
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("data-scroller", "");
      if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) {
        var table = box.querySelector("table");
        var caption = table && table.querySelector("caption");
        var section = box.closest("section, figure, .card, details");
        var heading = section && section.querySelector("h1, h2, h3, summary, figcaption");
        var name = (table && table.getAttribute("aria-label")) || (caption && caption.textContent) ||
          (heading && heading.textContent) || "Table";
        box.setAttribute("aria-label", name.replace(/\s+/g, " ").trim() + " (scrolls sideways)");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { labelScrollers(document); });
  window.addEventListener("resize", function () { labelScrollers(document); });
  document.addEventListener("toggle", function (event) {
    if (event.target.classList && event.target.classList.contains("chart-data")) { labelScrollers(event.target); }
  }, true);

  // The top bar's menus (<details class="navmenu">): one open at a time; a click elsewhere or
  // Escape closes them (Escape gives the focus back to the menu's button).
  function closeMenus(except) {
    Array.prototype.forEach.call(document.querySelectorAll("details.navmenu[open]"), function (menu) {
      if (menu !== except) { menu.removeAttribute("open"); }
    });
  }
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (menu.classList && menu.classList.contains("navmenu") && menu.open) { closeMenus(menu); }
  }, true);
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("details.navmenu")) { closeMenus(null); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = document.querySelector("details.navmenu[open]");
    if (!open) { return; }
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  });

  // The audit table's menus (<details class="view-menu">: Save this view, Columns): one open at a
  // time, so their panels never cover each other. Without JavaScript both may be open; they work.
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.classList || !menu.classList.contains("view-menu") || !menu.open) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("details.view-menu[open]"), function (other) {
      if (other !== menu) { other.removeAttribute("open"); }
    });
  }, true);

  // A button that prints the page (the printable invoice): a data- attribute, not an inline
  // onclick, which the Content-Security-Policy would refuse.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) { window.print(); }
  });

  // htmx: mark the results busy while a request runs; after a pager click, move focus to the
  // results so keyboard and screen-reader users land on the new page, not at the top.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target) { target.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target) { return; }
    target.setAttribute("aria-busy", "false");
    labelScrollers(target);
    var origin = event.detail.elt;
    if (origin && origin.closest && origin.closest(".pager")) {
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: false });
      target.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  });
})();
