//! The widget's own CSS: rules for what only the wasm creates, and only after an interaction or a claim (the
//! sign-in dialog, the success toast). latch.js keeps the rules needed before the widget renders (hiding gated
//! content, the locked card's reserved room, the overlay and its CTA); these are added at start through latch.js's
//! stylesheet function (a constructed stylesheet, else a `<style>`), which keeps the loader small
//! (widget/README.md, "Size").

/// The rules: the toast fades out by itself; the dialog is themed like the overlay (`--latch-*`).
pub const CSS: &str = concat!(
    ".latch-toast{position:fixed;z-index:99999;bottom:1em;left:50%;translate:-50%;padding:.7em 1.2em;",
    "border-radius:var(--latch-radius,.5em);background:var(--latch-accent,#635bff);color:var(--latch-accent-text,#fff);",
    "animation:latch-toast 6s forwards}",
    "@keyframes latch-toast{90%{opacity:1}to{opacity:0;visibility:hidden}}",
    ".latch-signin{border:0;border-radius:var(--latch-radius,.5em);padding:1.5em;max-width:min(24em,90vw);",
    "color:CanvasText;background:Canvas}.latch-signin::backdrop{background:#0009}",
    ".latch-signin label,.latch-signin input{display:block;box-sizing:border-box;width:100%}",
    ".latch-signin input{font:inherit;padding:.5em;margin-block-start:.25em}",
    ".latch-signin-actions{display:flex;gap:.5em;justify-content:flex-end}",
    ".latch-signin-cancel{font:inherit;cursor:pointer;background:none;border:0;color:inherit;padding:.6em}",
);
