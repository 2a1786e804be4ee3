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

  function dateAxis(data, narrow) {
    var n = data.days.length, day = 86400000;
    var dtick = n > 45 ? 7 * day : (n > 16 ? (narrow ? 7 : 2) * day : (narrow ? 2 : 1) * day);
    return {
      type: "date",
      tickformat: "%b %-d",
      tickangle: 0,
      dtick: dtick,
      gridcolor: GRID,
      showgrid: false,
      linecolor: "#d5dbe5",
      ticks: "outside",
      tickcolor: "#d5dbe5",
      hoverformat: "%a %b %-d, %Y"
    };
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
      xaxis: dateAxis(data),
      yaxis: { gridcolor: GRID, zeroline: false, rangemode: "tozero", tickformat: ",d", title: { text: "Outcomes", font: FONT } }
    }), CONFIG);
  }

  function drawReasons(el, data) {
    var rows = data.reasons.slice().reverse(); // largest on top
    el.style.height = Math.max(240, 30 * rows.length + 50) + "px";
    Plotly.newPlot(el, [{
      type: "bar",
      orientation: "h",
      x: rows.map(function (r) { return r.count; }),
      y: rows.map(function (r) { return r.label; }),
      customdata: rows.map(function (r) { return r.code; }),
      marker: { color: "#e0675f" },
      hovertemplate: "%{y} (%{customdata}): %{x:,}<extra></extra>"
    }], baseLayout({
      margin: { l: 8, r: 16, t: 8, b: 36 },
      xaxis: { gridcolor: GRID, zeroline: false, tickformat: ",d", rangemode: "tozero" },
      yaxis: { automargin: true, ticksuffix: "  " },
      showlegend: false,
      bargap: 0.3
    }), CONFIG);
    // A bar opens the events behind it.
    el.on("plotly_click", function (event) {
      var code = event.points && event.points[0] && event.points[0].customdata;
      var row = data.reasons.filter(function (r) { return r.code === code; })[0];
      if (row) { window.location.href = row.url; }
    });
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
    ], baseLayout({
      hovermode: "x unified",
      margin: { l: 56, r: 64, t: 8, b: 36 },
      xaxis: dateAxis(data, true),
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
    var origin = event.detail.elt;
    if (origin && origin.closest && origin.closest(".pager")) {
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: false });
      target.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  });
})();
