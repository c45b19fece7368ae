//! README.md's table of variables, rendered from the declarations: a test keeps the two equal.

use super::declarations::DEFS;
use super::regions::REGIONS;

/// README.md holds the rendered table between these two lines.
const BEGIN: &str = "<!-- variables:begin: generated from src/vars/declarations.rs -->\n";
const END: &str = "<!-- variables:end -->";

/// Setting it makes the test rewrite README.md's table instead of failing.
const REWRITE: &str = "STACKCTL_WRITE_README";

/// The table of variables (name, default, notes) and the regions `aws_region` accepts.
fn render() -> String {
    let mut out = String::from("| variable | default | notes |\n|---|---|---|\n");
    for def in DEFS {
        let default = def
            .default
            .map_or_else(|| "required".to_owned(), |d| format!("`{d}`"));
        let notes: Vec<&str> = def.help.iter().map(|line| line.trim()).collect();
        let notes = notes.join(" ");
        let notes = if notes.is_empty() {
            " ".to_owned()
        } else {
            format!(" {notes} ")
        };
        out.push_str(&format!("| `{}` | {default} |{notes}|\n", def.name));
    }
    let regions: Vec<String> = REGIONS
        .iter()
        .map(|(code, _, _)| format!("`{code}`"))
        .collect();
    out.push_str(&format!(
        "\nThe regions `aws_region` accepts: {}. A\nregion AWS opened after this release needs a newer stackctl.\n",
        regions.join(", ")
    ));
    out
}

#[test]
fn the_readme_table_of_variables_is_the_declarations() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let missing = |line: &str| panic!("README.md lacks the line {line}");
    let start = readme.find(BEGIN).unwrap_or_else(|| missing(BEGIN)) + BEGIN.len();
    let end = start + readme[start..].find(END).unwrap_or_else(|| missing(END));
    let want = render();
    if std::env::var_os(REWRITE).is_some() {
        let rewritten = format!("{}{want}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, rewritten).unwrap();
        return;
    }
    let have = &readme[start..end];
    if have != want {
        let (n, (a, b)) = have
            .lines()
            .chain(std::iter::repeat(""))
            .zip(want.lines().chain(std::iter::repeat("")))
            .enumerate()
            .take(have.lines().count().max(want.lines().count()) + 1)
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("(blank lines differ)", "")));
        panic!(
            "README.md's table of variables is not what src/vars/declarations.rs declares; regenerate it with `{REWRITE}=1 cargo test --bin stackctl readme`\n  first difference, line {} of the table:\n  README.md:    {a}\n  declarations: {b}",
            n + 1
        );
    }
}
