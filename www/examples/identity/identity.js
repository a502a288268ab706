// Stands in for a host site that renders its signed-in user into the Latch tag. A real site's server writes
// data-identity="v1.<payload>.<sig>" into the tag in its page's <head>; this page is static and its CSP forbids
// inline scripts, so this same-origin script writes that tag itself, with the value its server would have rendered
// taken from the page's `?identity=` query. document.write keeps the tag what a server-rendered one is: parsed in
// <head>, blocking, run before the first paint (so the loader's no-flash rules apply as on a real host page). Only
// a value of the signed shape (base64url and hex) is written, so the query cannot inject markup. Latch itself
// never reads the URL: it sees only the tag's attribute.
(function () {
  "use strict";
  var identity = new URLSearchParams(location.search).get("identity") || "";
  var attr = /^v1\.[\w-]+\.[0-9a-f]+$/.test(identity) ? ' data-identity="' + identity + '"' : "";
  document.write('<script src="/latch.js" data-site="site_demo"' + attr + "></scr" + "ipt>");
})();
