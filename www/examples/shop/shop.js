// Hearth & Loaf's own script (an example site for Latch). Loaded early and synchronously from <head>, before
// the Latch tags, so it sees everything. Besides the page's navigation it keeps records the end-to-end tests read:
//   window.__cspViolations  every securitypolicyviolation ("directive blocked-uri")
//   window.__cls            cumulative layout shift without recent input (PerformanceObserver), and
//   window.__shifts         each such shift with the elements that moved
//   window.__flash          what the gated elements showed at DOMContentLoaded and on every animation frame
//                           until latch:ready (and once after it)
(function () {
  "use strict";
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", function (e) {
    window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
  });

  window.__cls = 0;
  window.__shifts = [];
  function describe(node) {
    if (!node || !node.tagName) return String(node && node.nodeName);
    return node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") + (node.className ? "." + node.className : "");
  }
  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) {
        if (e.hadRecentInput) return;
        window.__cls += e.value;
        window.__shifts.push(
          e.value.toFixed(4) + " at " + Math.round(e.startTime) + " ms: " +
            e.sources.map(function (s) { return describe(s.node); }).join(", "),
        );
      });
    }).observe({ type: "layout-shift", buffered: true });
  } catch (e) {
    window.__cls = -1; // layout-shift entries unsupported: tests treat this as a failure
  }

  var flash = (window.__flash = { samples: [], ready: false });
  function shown(id) {
    var el = document.getElementById(id);
    return !!el && getComputedStyle(el).display !== "none";
  }
  function sample(phase) {
    var card = document.getElementById("pro-card");
    flash.samples.push({
      phase: phase,
      proContent: shown("pro-content"),
      proPitch: shown("pro-pitch"),
      proWelcome: shown("pro-welcome"),
      cardLocked: !!card && (card.classList.contains("latch-locked") || !!card.querySelector(".latch-overlay")),
      cardShown: shown("pro-card"),
    });
  }
  document.addEventListener("latch:ready", function () {
    flash.ready = true;
    sample("ready");
  });
  document.addEventListener("DOMContentLoaded", function () {
    sample("domcontentloaded");
    (function frame() {
      if (flash.ready) return;
      sample("frame");
      requestAnimationFrame(frame);
    })();
  });

  // "Single-page" navigation: Classes replaces the section with content fetched late, with new Latch elements.
  function showClasses() {
    var section = document.getElementById("classes");
    var card = document.createElement("article");
    card.className = "class-card";
    card.id = "course-card";
    card.setAttribute("data-latch-locked", "course");
    var h = document.createElement("h3");
    h.textContent = "Sourdough masterclass";
    var p = document.createElement("p");
    p.textContent = "Twelve recorded lessons, from a starter that will not rise to a loaf you can sell.";
    var body = document.createElement("div");
    body.id = "course-content";
    body.setAttribute("data-latch-content", "course");
    body.textContent = "Lesson 1: reading your starter. Lesson 2: flour, water, time.";
    card.append(h, p, body);
    var buy = document.createElement("button");
    buy.id = "buy-course-late";
    buy.className = "button";
    buy.setAttribute("data-latch-buy", "course-lifetime");
    buy.textContent = "Get the masterclass";
    var title = document.createElement("h2");
    title.textContent = "Classes";
    section.replaceChildren(title, card, buy);
    section.classList.add("loaded");
  }
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("[data-view=classes]");
    if (!link) return;
    e.preventDefault();
    history.pushState(null, "", "#classes");
    // As if the data came from the network a moment later.
    setTimeout(showClasses, 50);
  });
})();
