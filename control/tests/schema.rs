//! The SQLite and PostgreSQL migrations must build the same schema: same tables, same
//! columns, same nullability. The query code is shared, so a drift would break one backend.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use tidecast_control::db::Db;
use tidecast_tests::{Backend, Store};

async fn columns(b: Backend) -> BTreeSet<(String, String, bool)> {
    let store = Store::new(b).await;
    let db = Db::connect(&store.database_url).await.unwrap();
    db.migrate().await.unwrap();
    let sql = match b {
        Backend::Sqlite => {
            "SELECT m.name, p.name, CAST(p.\"notnull\" AS BIGINT) FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), CAST(CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS BIGINT) \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'"
        }
    };
    let rows: Vec<(String, String, i64)> = sqlx::query_as(sql).fetch_all(db.pool()).await.unwrap();
    // SQLite reports INTEGER PRIMARY KEY as nullable; PostgreSQL as NOT NULL.
    rows.into_iter()
        .map(|(t, c, nn)| {
            let nn = nn == 1 || c == "id";
            (t, c, nn)
        })
        .collect()
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let lite = columns(Backend::Sqlite).await;
    let pg = columns(Backend::Postgres).await;
    assert!(lite.len() > 30, "{lite:?}");
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_lite:?}\nonly in PostgreSQL: {only_pg:?}"
    );
}
