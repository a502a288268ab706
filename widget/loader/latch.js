// Latch loader (usage, CSP and API: widget/README.md).
// Template: `cargo xtask build` (xtask/src/build.rs) writes the minified www/latch.js from it, with the
// placeholders set to the content-hashed file names in pkg/ and the wasm's SRI hash.
((w, d) => {
  if (w.Latch) return;
  const s = d.currentScript || d.querySelector("script[data-site]"),
    site = s && s.getAttribute("data-site");
  if (!site) return;
  const id = s.getAttribute("data-identity"),
    edge = (s.getAttribute("data-edge") || new URL(".", s.src).href).replace(/\/+$/, ""),
    root = d.documentElement,
    C = "[data-latch-content",
    L = "[data-latch-locked",
    P = "html:not(.latch-ready) ",
    q = [],
    g = [];
  let hide = [C + "]"],
    lock = L + "]",
    fill = "",
    wasm,
    send = id;
  try {
    const k = "latch:" + site + ":",
      now = Date.now(),
      a = JSON.parse(localStorage.getItem(k + "access") || "null"),
      m = a && a.member && a.member.email;
    let t = localStorage.getItem(k + "token"),
      pos = C + "]:not(" + C + '^="!"])';
    // The host site's identity (data-identity, base64url JSON payload) for the cached member: the cached token
    // serves. For anyone else the widget exchanges it at /v1/identify, and access waits for that (an unreadable
    // payload throws: everything gated waits too).
    if (id && t)
      if (JSON.parse(atob(id.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).email.trim().toLowerCase() == m) send = null;
      else t = 0;
    if (!t && !id) hide = [pos, "[data-latch-portal]", "[data-latch-signout]", "[data-latch-member]"];
    else if (t && a && now - a.t < 864e5) {
      hide = [];
      for (const { product: p, ends_at: e } of a.access || [])
        if (/^[\w-]+$/.test(p) && (e == null || e * 1e3 > now)) {
          g.push(p);
          pos += ":not(" + C + '="' + p + '"])';
          lock += ":not(" + L + '="' + p + '"])';
          hide.push(C + '="!' + p + '"]');
        }
      hide.push(pos);
      // The cached email shows in member fields until the widget writes the same text: no reflow.
      if (typeof m == "string" && /^[^"\\\n\r<>]{1,200}$/.test(m)) fill = P + '[data-latch-member="email"]:empty::before{content:"' + m + '"}';
    }
    // A signed-in member (or one the host site signs in) never sees the sign-in link, not even for a frame.
    if (t || id) hide.push("[data-latch-signin]");
    // Products whose locked card is off (cached catalog): their locked elements hide like gated content.
    for (const { slug: p, locked_card: o } of JSON.parse(localStorage.getItem(k + "catalog") || "{}").products || [])
      if (o === false && /^[\w-]+$/.test(p) && !g.includes(p)) hide.push(L + '="' + p + '"]');
  } catch (e) {}
  const css =
    hide.map((x) => P + x) +
    "{display:none!important}[hidden]:is(" + C + "]," + L + "],[data-latch-portal],[data-latch-signout],[data-latch-signin],[data-latch-member],.latch-trial){display:none!important}" +
    P + lock + "::after{content:'';display:block;height:var(--latch-overlay-height,9em)}" +
    ".latch-locked{cursor:pointer}" +
    ".latch-overlay{position:relative;box-sizing:border-box;height:var(--latch-overlay-height,9em);display:flex;flex-direction:column;align-items:center;justify-content:center;gap:.5em;padding:.5em;text-align:center;cursor:default}" +
    ".latch-overlay::before{content:'';position:absolute;inset-inline:0;bottom:100%;height:3em;background:linear-gradient(transparent,var(--latch-fade,Canvas));pointer-events:none}" +
    ".latch-lock{width:1.5em;height:1.5em;fill:currentColor;opacity:.75}" +
    ".latch-trial{margin:0;font-size:.875em;opacity:.8}" +
    ".latch-cta{font:inherit;font-weight:600;cursor:pointer;border:0;border-radius:var(--latch-radius,.5em);padding:.6em 1.2em;background:var(--latch-accent,#635bff);color:var(--latch-accent-text,#fff)}" +
    ".latch-cta[disabled]{opacity:.7;cursor:progress}" +
    ".latch-unavailable,.latch-unavailable .latch-cta{cursor:not-allowed}" +
    fill;
  // A constructed stylesheet (a CSP's style-src does not block it), else a <style>. The wasm adds its own rules
  // (sign-in dialog, toast: widget/src/style.rs) through it too.
  const style = (text) => {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(text);
      d.adoptedStyleSheets = [...d.adoptedStyleSheets, sheet];
    } catch (e) {
      d.head.appendChild(d.createElement("style")).textContent = text;
    }
  };
  style(css);
  const later = (f) => (wasm ? f() : new Promise((ok) => q.push(() => ok(f()))));
  w.Latch = {
    refresh: () => later(() => new Promise((ok) => wasm.refresh(ok))),
    member: () => (wasm ? wasm.member() : null),
    signOut: () => later(() => wasm.signOut()),
  };
  root.classList.add("latch-loading");
  const bin = fetch(edge + "/pkg/@WASM@", { integrity: "@WASM_SRI@" });
  bin.catch(() => {});
  import(edge + "/pkg/@GLUE@")
    .then((m) =>
      m.default({ module_or_path: bin }).then(() => {
        wasm = m;
        m.start(site, edge, send, style);
        q.forEach((f) => f());
      }),
    )
    .catch((e) => {
      // Only what the site shows to non-members stays: no member content, no portal, sign-out or member fields.
      for (const el of d.querySelectorAll(C + "],[data-latch-portal],[data-latch-signout],[data-latch-member]"))
        if ((el.getAttribute("data-latch-content") || "x").trim()[0] != "!") el.hidden = true;
      d.addEventListener("click", (ev) => {
        const b = ev.target.closest && ev.target.closest("[data-latch-fallback]");
        if (b) location.assign(b.getAttribute("data-latch-fallback"));
      });
      root.classList.remove("latch-loading");
      root.classList.add("latch-ready", "latch-error");
      console.warn("Latch: widget failed to load", e);
    });
})(window, document);
