//! PostgreSQL for the tests: the server `tools/test.sh` starts, and a fresh schema per test.

/// The PostgreSQL server the tests use (tools/test.sh sets TEST_DATABASE_URL).
pub fn pg_base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A fresh PostgreSQL schema for one test; its URL points the search_path at it.
pub struct PgSchema {
    pub name: String,
    pub url: String,
}

impl PgSchema {
    /// Creates `crawlium_t_<random>`.
    pub async fn create() -> Self {
        use sqlx::Connection;
        let name = format!("crawlium_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&pg_base_url())
            .await
            .expect("PostgreSQL at TEST_DATABASE_URL (tools/test.sh starts it)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let separator = if pg_base_url().contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{separator}options=-c%20search_path%3D{name}",
            pg_base_url()
        );
        Self { name, url }
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&pg_base_url()).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}
