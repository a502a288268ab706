//! Short import names for the widget: wasm-bindgen names every import the wasm takes from its glue
//! `__wbg_<name>_<16 hex digits>`; the hex digits are noise gzip cannot shrink, and each name is written twice (in
//! the wasm's import section and as a key in the glue). Renaming them to `a`, `b`, ... in both files saves about
//! 3.5 KB gzip. The module they come from (`./latch_widget_bg.js`, written before each of them) becomes `a` too.
//! Only the import section's names change; every other byte of the wasm is kept.

/// Renames every import of `wasm` (a WebAssembly binary) to a short name and the matching keys in `glue` (the
/// minified JS module that defines them). Fails when the glue does not name each import exactly once, so a
/// wasm-bindgen that references imports elsewhere is noticed instead of broken.
pub(crate) fn shorten(wasm: &[u8], glue: &str) -> Result<(Vec<u8>, String), String> {
    let (wasm, modules, renames) = rename_imports(wasm)?;
    let mut glue = glue.to_string();
    for (old, new) in modules {
        let (old, new) = (format!("\"{old}\""), format!("\"{new}\""));
        let count = glue.matches(&old).count();
        if count != 1 {
            return Err(format!("the widget glue names import module {old} {count} times, expected once"));
        }
        glue = glue.replace(&old, &new);
    }
    let glue = glue.as_str();
    let mut counts = vec![0usize; renames.len()];
    let mut out = String::with_capacity(glue.len());
    let mut rest = glue;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        out.push_str(&rest[..start]);
        let len = rest[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'));
        let token = &rest[start..start + len.unwrap_or(rest.len() - start)];
        match renames.iter().position(|(old, _)| old == token) {
            Some(i) => {
                counts[i] += 1;
                out.push_str(&renames[i].1);
            }
            None => out.push_str(token),
        }
        rest = &rest[start + token.len()..];
    }
    out.push_str(rest);
    if let Some(i) = counts.iter().position(|&n| n != 1) {
        return Err(format!("the widget glue names import {} {} times, expected once", renames[i].0, counts[i]));
    }
    Ok((wasm, out))
}

/// The name for the `i`-th import: `a`..`Z`, then `aa`, `ab`, ...
fn short_name(mut i: usize) -> String {
    const LETTERS: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = vec![LETTERS[i % 52]];
    i /= 52;
    while i > 0 {
        name.insert(0, LETTERS[(i - 1) % 52]);
        i = (i - 1) / 52;
    }
    String::from_utf8(name).unwrap_or_default()
}

fn read_u32(bytes: &[u8], at: &mut usize) -> Result<u32, String> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at).ok_or("wasm: truncated LEB128")?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return u32::try_from(value).map_err(|_| "wasm: LEB128 over u32".to_string());
        }
    }
    Err("wasm: LEB128 too long".into())
}

fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take<'a>(bytes: &'a [u8], at: &mut usize, len: usize) -> Result<&'a [u8], String> {
    let slice = bytes.get(*at..*at + len).ok_or("wasm: truncated")?;
    *at += len;
    Ok(slice)
}

/// The module names a wasm imports from, in order of first use.
pub(crate) fn modules(wasm: &[u8]) -> Result<Vec<String>, String> {
    Ok(rename_imports(wasm)?.1.into_iter().map(|(old, _)| old).collect())
}

/// (old, new) import names, in import order.
type Renames = Vec<(String, String)>;

/// The wasm with its function imports and their modules renamed, and the module and import renames.
fn rename_imports(wasm: &[u8]) -> Result<(Vec<u8>, Renames, Renames), String> {
    if wasm.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        return Err("not a WebAssembly 1.0 binary".into());
    }
    let mut out = wasm[..8].to_vec();
    let mut renames = Vec::new();
    let mut modules: Renames = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let len = read_u32(wasm, &mut at)? as usize;
        let body = take(wasm, &mut at, len)?;
        if id != 2 {
            out.push(id);
            write_u32(&mut out, len as u32);
            out.extend_from_slice(body);
            continue;
        }
        let mut pos = 0;
        let count = read_u32(body, &mut pos)?;
        let mut section = Vec::new();
        write_u32(&mut section, count);
        for i in 0..count as usize {
            let module_len = read_u32(body, &mut pos)? as usize;
            let module = std::str::from_utf8(take(body, &mut pos, module_len)?).map_err(|e| format!("wasm: {e}"))?;
            let module = match modules.iter().find(|(old, _)| old == module) {
                Some((_, new)) => new.clone(),
                None => {
                    let new = short_name(modules.len());
                    modules.push((module.to_string(), new.clone()));
                    new
                }
            };
            let name_len = read_u32(body, &mut pos)? as usize;
            let name = std::str::from_utf8(take(body, &mut pos, name_len)?).map_err(|e| format!("wasm: {e}"))?;
            if body.get(pos) != Some(&0) {
                return Err(format!("wasm: import {name} is not a function; teach xtask/src/imports.rs its kind"));
            }
            let kind_start = pos;
            pos += 1;
            read_u32(body, &mut pos)?;
            let short = short_name(i);
            write_u32(&mut section, module.len() as u32);
            section.extend_from_slice(module.as_bytes());
            write_u32(&mut section, short.len() as u32);
            section.extend_from_slice(short.as_bytes());
            section.extend_from_slice(&body[kind_start..pos]);
            renames.push((name.to_string(), short));
        }
        if pos != body.len() {
            return Err("wasm: trailing bytes in the import section".into());
        }
        out.push(2);
        write_u32(&mut out, section.len() as u32);
        out.extend_from_slice(&section);
    }
    Ok((out, modules, renames))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing functions (type 0) from `from`, with a one-type type section.
    fn module(from: &str, names: &[&str]) -> Vec<u8> {
        let mut imports = Vec::new();
        write_u32(&mut imports, names.len() as u32);
        for name in names {
            write_u32(&mut imports, from.len() as u32);
            imports.extend_from_slice(from.as_bytes());
            write_u32(&mut imports, name.len() as u32);
            imports.extend_from_slice(name.as_bytes());
            imports.extend_from_slice(&[0, 0]);
        }
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        wasm.push(2);
        write_u32(&mut wasm, imports.len() as u32);
        wasm.extend_from_slice(&imports);
        wasm
    }

    #[test]
    fn renames_imports_in_both_files() {
        let long = "__wbg_setAttribute_0123456789abcdef";
        let wasm = module("./m_bg.js", &[long, "__wbindgen_throw_fedcba9876543210"]);
        let glue = r#"x={"./m_bg.js":{__wbg_setAttribute_0123456789abcdef:function(e){e.__wbg_set()},__wbindgen_throw_fedcba9876543210:f}}"#;
        let (short_wasm, short_glue) = shorten(&wasm, glue).expect("shortened");
        assert_eq!(short_glue, r#"x={"a":{a:function(e){e.__wbg_set()},b:f}}"#);
        assert_eq!(short_wasm, module("a", &["a", "b"]));
    }

    #[test]
    fn refuses_glue_that_names_an_import_twice_or_never() {
        let wasm = module("m", &["__wbg_x_00"]);
        assert!(shorten(&wasm, r#"{"m":{__wbg_x_00:1,y:__wbg_x_00}}"#).is_err());
        assert!(shorten(&wasm, r#"{"m":{__wbg_x_001:1}}"#).is_err());
        assert!(shorten(&wasm, "{m:{__wbg_x_00:1}}").is_err(), "the module is named once, quoted");
        assert!(shorten(b"not wasm", "").is_err());
    }

    #[test]
    fn short_names_are_unique() {
        let names: Vec<String> = (0..3000).map(short_name).collect();
        assert_eq!((names[0].as_str(), names[51].as_str(), names[52].as_str()), ("a", "Z", "aa"));
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
