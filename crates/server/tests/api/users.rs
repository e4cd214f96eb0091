use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, PASSWORD};
use crate::stories;

stories!(
    users_see_only_their_own_account,
    admins_add_users_and_others_may_not,
    adding_a_user_checks_email_role_and_team,
    admins_change_users_of_their_account_only,
    admins_cannot_demote_or_deactivate_themselves,
    teams_are_listed_and_created_per_account,
);

async fn users_see_only_their_own_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.register("admin@acme.test", "Acme").await;
    app.add_user(&acme, "viewer@acme.test", "viewer").await;
    let globex = app.register("admin@globex.test", "Globex").await;

    let (status, users) = app.get("/users", &acme.token).await;
    assert_eq!(status, StatusCode::OK);
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@acme.test", "viewer@acme.test"]);
    for u in users.as_array().unwrap() {
        for field in ["id", "email", "full_name", "role", "team_id", "is_active"] {
            assert!(u.get(field).is_some(), "missing {field} in {u}");
        }
    }
    let (_, users) = app.get("/users", &globex.token).await;
    assert_eq!(users.as_array().unwrap().len(), 1);
}

async fn admins_add_users_and_others_may_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let (status, user) = app
        .post("/users", &admin.token, json!({"email": "Eng@Acme.test", "password": PASSWORD, "full_name": "Eng", "role": "engineer"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "eng@acme.test");
    assert_eq!(user["role"], "engineer");
    assert_eq!(user["account_id"], admin.account_id.as_str());

    let eng = app.login("eng@acme.test").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;
    for who in [&eng, &viewer] {
        let (status, _) = app
            .post("/users", &who.token, json!({"email": "x@acme.test", "password": PASSWORD, "full_name": "X", "role": "admin"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = app
        .post("/users", &admin.token, json!({"email": "eng@acme.test", "password": PASSWORD, "full_name": "Again", "role": "viewer"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn adding_a_user_checks_email_role_and_team(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let other = app.register("admin@globex.test", "Globex").await;
    let (_, foreign_team) = app
        .post("/teams", &other.token, json!({"name": "Globex desk"}))
        .await;

    let (status, body) = app
        .post(
            "/users",
            &admin.token,
            json!({"email": "a@acme.test", "password": PASSWORD, "full_name": "A", "role": "boss"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "role"]));

    let (status, body) = app
        .post("/users", &admin.token, json!({"email": "a@acme.test", "password": PASSWORD, "full_name": "A", "role": "engineer", "team_id": foreign_team["id"]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "team_id"]));

    let (status, body) = app
        .post(
            "/users",
            &admin.token,
            json!({"email": "nope", "password": "short", "full_name": "A", "role": "engineer"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"].as_array().unwrap().len(), 2);
}

async fn admins_change_users_of_their_account_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let globex = app.register("admin@globex.test", "Globex").await;
    let outsider = app.add_user(&globex, "eng@globex.test", "engineer").await;
    let (_, team) = app
        .post("/teams", &admin.token, json!({"name": "Service desk"}))
        .await;

    let (status, user) = app
        .patch(
            &format!("/users/{}", eng.id),
            &admin.token,
            json!({"role": "admin", "team_id": team["id"], "full_name": "  Promoted  "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["team_id"], team["id"]);
    assert_eq!(user["full_name"], "Promoted");

    let (status, user) = app
        .patch(
            &format!("/users/{}", eng.id),
            &admin.token,
            json!({"team_id": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(user["team_id"].is_null());
    assert_eq!(user["role"], "admin", "absent fields stay as they were");

    // Another tenant's user and an unknown id are both simply not found.
    let (status, body) = app
        .patch(
            &format!("/users/{}", outsider.id),
            &admin.token,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Not found");
    let (status, _) = app
        .patch(
            &format!("/users/{}", uuid::Uuid::new_v4()),
            &admin.token,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/users", &outsider.token).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = app
        .patch(
            &format!("/users/{}", admin.id),
            &outsider.token,
            json!({"full_name": "x"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an engineer is not an admin anywhere"
    );
}

async fn admins_cannot_demote_or_deactivate_themselves(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    for body in [json!({"role": "engineer"}), json!({"is_active": false})] {
        let (status, resp) = app
            .patch(&format!("/users/{}", admin.id), &admin.token, body)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{resp}");
    }
    let (status, _) = app
        .patch(
            &format!("/users/{}", admin.id),
            &admin.token,
            json!({"full_name": "Still Admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn teams_are_listed_and_created_per_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let globex = app.register("admin@globex.test", "Globex").await;

    let (status, team) = app
        .post("/teams", &admin.token, json!({"name": "Service desk"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(team["name"], "Service desk");
    let (status, _) = app
        .post("/teams", &admin.token, json!({"name": "Service desk"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post("/teams", &eng.token, json!({"name": "Rogue"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post("/teams", &admin.token, json!({"name": "  "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, teams) = app.get("/teams", &eng.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(teams, json!([{"id": team["id"], "name": "Service desk"}]));
    let (_, teams) = app.get("/teams", &globex.token).await;
    assert_eq!(teams, json!([]));
}
