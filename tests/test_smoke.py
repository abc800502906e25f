def test_it_has_a_login_page(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"LeadHub" in response.content
