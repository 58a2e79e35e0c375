//! The README tells the truth about the code it documents.

const README: &str = include_str!("../../README.md");

#[test]
fn readme_prints_the_permission_table_of_the_code() {
    let table = orgql::domain::permission_table_markdown();
    assert!(
        README.contains(&table),
        "README.md's permission table differs from the code; it should read:\n{table}"
    );
}

#[test]
fn readme_documents_every_setting() {
    let help = <orgql::config::Cli as clap::CommandFactory>::command();
    for argument in help.get_arguments() {
        let Some(flag) = argument.get_long() else {
            continue;
        };
        if ["help", "version"].contains(&flag) {
            continue;
        }
        assert!(
            README.contains(&format!("`--{flag}`")),
            "README.md does not document --{flag}"
        );
        if let Some(variable) = argument.get_env() {
            let variable = variable.to_string_lossy();
            assert!(
                README.contains(&format!("`{variable}`")),
                "README.md does not document {variable}"
            );
        }
    }
}
