// `sqlx::migrate!` embeds the migrations at compile time; cargo does not notice a new
// migration file on its own.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
