/* OutcomePortal — the finance area's charts (Plotly, vendored; data from json_script blocks, no
   inline script: Content-Security-Policy). Every page works without it: the figures are in tables. */
(function () {
  "use strict";

  var FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif", size: 12, color: "#384152" };
  var GRID = "#edf0f5";
  var CONFIG = { displayModeBar: false, responsive: true };

  function layout(extra) {
    var base = {
      font: FONT,
      margin: { l: 56, r: 16, t: 8, b: 40 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      hoverlabel: { font: FONT, bgcolor: "#fff", bordercolor: "#d5dbe5" },
      legend: { orientation: "h", x: 0, y: -0.18, font: FONT }
    };
    for (var key in extra) { base[key] = extra[key]; }
    return base;
  }

  function drawAttainment(el, data) {
    var traces = data.series.map(function (s) {
      return {
        type: "scatter",
        mode: "lines+markers",
        name: s.name,
        x: data.periods,
        y: s.rates,
        connectgaps: false,
        hovertemplate: s.name + ": %{y:.1%}<extra>%{x}</extra>"
      };
    });
    Plotly.newPlot(el, traces, layout({
      hovermode: "x unified",
      xaxis: { type: "category", gridcolor: GRID, linecolor: "#d5dbe5" },
      yaxis: { gridcolor: GRID, zeroline: false, tickformat: ".0%", rangemode: "tozero", title: { text: "Attainment", font: FONT } }
    }), CONFIG);
  }

  function drawMargin(el, data) {
    var traces = data.series.map(function (s) {
      return { type: "scatter", mode: "lines+markers", name: s.name, x: data.periods, y: s.rates,
               hovertemplate: s.name + ": %{y:.1%}<extra>%{x}</extra>" };
    });
    traces.push({ type: "scatter", mode: "lines", name: "Default floor", x: data.periods,
                  y: data.periods.map(function () { return data.floor; }),
                  line: { dash: "dash", color: "#e0675f", width: 1.5 }, hoverinfo: "skip" });
    Plotly.newPlot(el, traces, layout({
      hovermode: "x unified",
      xaxis: { type: "category", gridcolor: GRID, linecolor: "#d5dbe5" },
      yaxis: { gridcolor: GRID, zeroline: true, tickformat: ".0%", title: { text: "Gross margin", font: FONT } }
    }), CONFIG);
  }

  function drawRevenue(el, data) {
    Plotly.newPlot(el, [
      { type: "bar", name: "Invoiced", x: data.periods, y: data.revenue, marker: { color: "#7d97f5" } },
      { type: "bar", name: "Credit notes", x: data.periods, y: data.credits, marker: { color: "#e0675f" } },
      { type: "scatter", mode: "lines+markers", name: "Net", x: data.periods, y: data.net, line: { color: "#1d39c4", width: 2.5 } }
    ], layout({
      hovermode: "x unified",
      xaxis: { type: "category", gridcolor: GRID, linecolor: "#d5dbe5" },
      yaxis: { gridcolor: GRID, zeroline: false, tickformat: ",.0f", title: { text: data.currency, font: FONT } }
    }), CONFIG);
  }

  var SCENARIO_COLORS = { baseline: "#1d39c4", dip: "#d48806", decline: "#e0675f", churn: "#7a3fb0" };

  function drawScenarios(el, data) {
    var traces = data.revenue.map(function (s) {
      return { type: "scatter", mode: "lines+markers", name: s.name, x: data.periods, y: s.values,
               line: { color: SCENARIO_COLORS[s.scenario], width: s.scenario === "baseline" ? 2.5 : 2 },
               hovertemplate: s.name + ": %{y:,.2f}<extra>%{x}</extra>" };
    });
    Plotly.newPlot(el, traces, layout({
      hovermode: "x unified",
      xaxis: { type: "category", gridcolor: GRID, linecolor: "#d5dbe5" },
      yaxis: { gridcolor: GRID, zeroline: true, rangemode: "tozero", tickformat: ",.0f",
               title: { text: data.currencies.join(" · "), font: FONT } }
    }), CONFIG);
  }

  function drawScenarioRates(el, data) {
    var last = data.history_periods[data.history_periods.length - 1];
    var lastRate = data.history_rates[data.history_rates.length - 1];
    var traces = [{ type: "scatter", mode: "lines+markers", name: "Last six months", x: data.history_periods,
                    y: data.history_rates, line: { color: "#384152", width: 2.5 },
                    hovertemplate: "Actual: %{y:.1%}<extra>%{x}</extra>" }];
    data.rates.forEach(function (s) {
      traces.push({ type: "scatter", mode: "lines", name: s.name, x: [last].concat(data.periods),
                    y: [lastRate].concat(s.values), line: { color: SCENARIO_COLORS[s.scenario], dash: "dot", width: 2 },
                    hovertemplate: s.name + ": %{y:.1%}<extra>%{x}</extra>" });
    });
    Plotly.newPlot(el, traces, layout({
      hovermode: "x unified",
      xaxis: { type: "category", gridcolor: GRID, linecolor: "#d5dbe5" },
      yaxis: { gridcolor: GRID, zeroline: false, tickformat: ".0%", range: [0, 1.02], title: { text: "Attainment", font: FONT } }
    }), CONFIG);
  }

  function drawWhatIf(el, data) {
    Plotly.newPlot(el, [
      { type: "bar", name: "Invoiced", x: data.periods, y: data.actual, marker: { color: "#9aa5b8" },
        hovertemplate: "Invoiced: %{y:,.2f}<extra>%{x}</extra>" },
      { type: "bar", name: "Candidate", x: data.periods, y: data.candidate, marker: { color: "#1d39c4" },
        hovertemplate: "Candidate: %{y:,.2f}<extra>%{x}</extra>" }
    ], layout({
      barmode: "group",
      hovermode: "x unified",
      xaxis: { type: "category", gridcolor: GRID, linecolor: "#d5dbe5" },
      yaxis: { gridcolor: GRID, zeroline: true, rangemode: "tozero", tickformat: ",.0f", title: { text: data.currency, font: FONT } }
    }), CONFIG);
  }

  function draw() {
    if (typeof Plotly === "undefined") { return; }
    var source = document.getElementById("attainment-data");
    var el = document.getElementById("chart-attainment");
    if (source && el) { drawAttainment(el, JSON.parse(source.textContent)); el.classList.add("drawn"); }
    var margin = document.getElementById("margin-data");
    var marginEl = document.getElementById("chart-margin");
    var revenue = document.getElementById("revenue-data");
    var revenueEl = document.getElementById("chart-revenue");
    if (revenue && revenueEl) { drawRevenue(revenueEl, JSON.parse(revenue.textContent)); revenueEl.classList.add("drawn"); }
    if (margin && marginEl) { drawMargin(marginEl, JSON.parse(margin.textContent)); marginEl.classList.add("drawn"); }
    var scenarios = document.getElementById("scenarios-data");
    var scenariosEl = document.getElementById("chart-scenarios");
    var ratesEl = document.getElementById("chart-scenario-rates");
    if (scenarios && scenariosEl) { drawScenarios(scenariosEl, JSON.parse(scenarios.textContent)); scenariosEl.classList.add("drawn"); }
    var whatif = document.getElementById("whatif-data");
    var whatifEl = document.getElementById("chart-whatif");
    if (whatif && whatifEl) { drawWhatIf(whatifEl, JSON.parse(whatif.textContent)); whatifEl.classList.add("drawn"); }
    if (scenarios && ratesEl) { drawScenarioRates(ratesEl, JSON.parse(scenarios.textContent)); ratesEl.classList.add("drawn"); }
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
