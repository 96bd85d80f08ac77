//! The `#[needs_root]` attribute; use it as `imagebake_testing::needs_root`.
//!
//! Stable Rust cannot skip a test at run time, so the decision is made when
//! the test is compiled: without root (and without `CI`) the test gets
//! `#[ignore = "needs root: …"]` and `cargo test` reports it as ignored.
//! Every marked test also starts with a guard that fails it when it runs
//! without root (in CI, with `--include-ignored`, or when it was compiled as
//! root), so a root-only test is never counted as passed without root.

use proc_macro::{Delimiter, Group, Literal, TokenStream, TokenTree};

#[path = "../../../imagebake-sim/src/user.rs"]
#[allow(dead_code)] // is_root: the decision below wants the uid itself
mod user;

#[path = "../../src/policy.rs"]
mod policy;

/// Marks a test that needs root: `#[needs_root("loop devices, mount")]`
/// (the reason is optional). Put it above `#[test]` or `#[tokio::test]`:
/// the test attribute reads `#[ignore]` when it expands, so it must expand
/// after this one (the other order is a compile error).
#[proc_macro_attribute]
pub fn needs_root(attr: TokenStream, item: TokenStream) -> TokenStream {
    let why = match reason(attr) {
        Ok(why) => why,
        Err(e) => return error(&e),
    };
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let Some(name) = fn_name(&tokens) else {
        return error("#[needs_root] goes on a test function");
    };
    if !has_test_attribute(&tokens) {
        return error(
            "put #[needs_root] above #[test] or #[tokio::test] (the test attribute must \
             expand after it to see the #[ignore] it may add)",
        );
    }
    let Some(TokenTree::Group(body)) = tokens.last().cloned() else {
        return error("#[needs_root] needs a function with a body");
    };
    if body.delimiter() != Delimiter::Brace {
        return error("#[needs_root] needs a function with a body");
    }
    // `option_env!("CI")` makes cargo rebuild the test when CI changes, so
    // the decision below is made again.
    let guard: TokenStream = format!(
        "::imagebake_testing::require_root({}, {}); let _ = ::core::option_env!(\"CI\");",
        Literal::string(&name),
        Literal::string(&why),
    )
    .parse()
    .expect("the guard is valid Rust");
    let mut stream = guard;
    stream.extend(body.stream());
    let mut new_body = Group::new(Delimiter::Brace, stream);
    new_body.set_span(body.span());
    *tokens.last_mut().expect("a body") = TokenTree::Group(new_body);

    let ci = policy::ci_from(std::env::var("CI").ok().as_deref());
    let mut out = TokenStream::new();
    if policy::root_test(user::euid(), ci) == policy::RootTest::Ignore {
        let ignore: TokenStream = format!(
            "#[ignore = {}]",
            Literal::string(&format!("needs root: {why}"))
        )
        .parse()
        .expect("the attribute is valid Rust");
        out.extend(ignore);
    }
    out.extend(tokens);
    out
}

/// The reason given as `#[needs_root("…")]`, or a default.
fn reason(attr: TokenStream) -> Result<String, String> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    match tokens.as_slice() {
        [] => Ok("it needs root".to_owned()),
        [TokenTree::Literal(l)] => {
            let s = l.to_string();
            match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(inner) if !inner.contains('\\') => Ok(inner.to_owned()),
                _ => Err(format!(
                    "#[needs_root] takes a plain string literal (the reason), not {s}"
                )),
            }
        }
        _ => Err("#[needs_root] takes one string literal (the reason), or nothing".to_owned()),
    }
}

/// Whether a `#[test]`-like attribute (`test`, `tokio::test(…)`, …) follows.
fn has_test_attribute(tokens: &[TokenTree]) -> bool {
    tokens.windows(2).any(|w| match w {
        [TokenTree::Punct(p), TokenTree::Group(g)]
            if p.as_char() == '#' && g.delimiter() == Delimiter::Bracket =>
        {
            let path: Vec<String> = g
                .stream()
                .into_iter()
                .take_while(|t| !matches!(t, TokenTree::Group(_)))
                .filter_map(|t| match t {
                    TokenTree::Ident(i) => Some(i.to_string()),
                    _ => None,
                })
                .collect();
            path.last().is_some_and(|last| last == "test")
        }
        _ => false,
    })
}

/// The name after `fn`.
fn fn_name(tokens: &[TokenTree]) -> Option<String> {
    let at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"))?;
    match tokens.get(at + 1)? {
        TokenTree::Ident(name) => Some(name.to_string()),
        _ => None,
    }
}

fn error(message: &str) -> TokenStream {
    format!("::core::compile_error!({});", Literal::string(message))
        .parse()
        .expect("compile_error! is valid Rust")
}
