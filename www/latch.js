/*! Latch loader: <script src="EDGE/latch.js" data-site="site_..." defer></script>
 * Adds the widget's stylesheet (hides gated content until access is known), loads EDGE/pkg/latch_widget.js +
 * .wasm and starts it. No inline script, no eval: CSP `script-src EDGE; connect-src EDGE`. Loads once per page. */
(function (w, d) {
  if (w.Latch) return;
  var s = d.currentScript || d.querySelector("script[data-site]");
  var site = s && s.getAttribute("data-site");
  if (!site) return;
  var edge = (s.getAttribute("data-edge") || new URL(".", s.src).href).replace(/\/+$/, "");
  var root = d.documentElement;
  var css =
    "html:not(.latch-ready) [data-latch-content],[data-latch-content][hidden],[data-latch-portal][hidden],[data-latch-signout][hidden],[data-latch-member][hidden],.latch-overlay [hidden]{display:none!important}" +
    "[data-latch-locked].latch-locked{cursor:pointer}" +
    ".latch-overlay{position:relative;display:flex;flex-direction:column;align-items:center;gap:.5em;padding:1em;text-align:center;cursor:default}" +
    ".latch-overlay::before{content:'';position:absolute;inset-inline:0;bottom:100%;height:3em;background:linear-gradient(transparent,var(--latch-fade,Canvas));pointer-events:none}" +
    ".latch-lock{width:1.5em;height:1.5em;fill:currentColor;opacity:.75}" +
    ".latch-trial{margin:0;font-size:.875em;opacity:.8}" +
    ".latch-cta{font:inherit;font-weight:600;cursor:pointer;border:0;border-radius:var(--latch-radius,.5em);padding:.6em 1.2em;background:var(--latch-accent,#635bff);color:var(--latch-accent-text,#fff)}" +
    ".latch-cta:focus-visible{outline:2px solid var(--latch-accent,#635bff);outline-offset:2px}" +
    ".latch-cta[disabled]{opacity:.7;cursor:progress}";
  try {
    // Constructed stylesheets are not inline styles: they work under a strict style-src too.
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    d.adoptedStyleSheets = d.adoptedStyleSheets.concat(sheet);
  } catch (e) {
    var st = d.createElement("style");
    st.textContent = css;
    d.head.appendChild(st);
  }
  // Latch.refresh() -> Promise of Latch.member(); calls made before the widget is up wait for it.
  var wasm, queue = [];
  var later = function (f) {
    return wasm ? f() : new Promise(function (ok) {
      queue.push(function () { ok(f()); });
    });
  };
  w.Latch = {
    site: site,
    edge: edge,
    refresh: function () {
      return later(function () {
        return new Promise(function (ok) { wasm.refresh(ok); });
      });
    },
    member: function () { return wasm ? wasm.member() : null; },
    signOut: function () { later(function () { wasm.signOut(); }); },
  };
  root.classList.add("latch-loading");
  import(edge + "/pkg/latch_widget.js")
    .then(function (m) {
      return m.default({ module_or_path: edge + "/pkg/latch_widget_bg.wasm" }).then(function () {
        wasm = m;
        m.start(site, edge);
        queue.forEach(function (f) { f(); });
      });
    })
    .catch(function (e) {
      // Widget unreachable: show the page as the site intended for non-members.
      d.querySelectorAll("[data-latch-content]").forEach(function (el) {
        if (el.getAttribute("data-latch-content").trim()[0] != "!") el.hidden = true;
      });
      root.classList.remove("latch-loading");
      root.classList.add("latch-ready", "latch-error");
      console.warn("Latch: widget failed to load", e);
    });
})(window, document);
