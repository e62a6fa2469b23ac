//! CLI cases as data: each `tests/cmd/<case>.toml` runs `ml-gates` in `<case>.in/` and compares
//! the exit code, stdout and stderr with `<case>.stdout` / `<case>.stderr`.
//! After an intended change in output, bless it with `TRYCMD=overwrite cargo test --test cli`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
