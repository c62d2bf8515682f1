"""The home page: a card per role and the caller's projects with their descriptions."""

from __future__ import annotations


def test_project_descriptions_render_as_sanitised_markdown(client, db, project, logged_in) -> None:
    project.description = (
        "Answers for **support** staff.\n\n- short\n- kind\n\n"
        "<script>alert(1)</script> [x](javascript:alert(1))"
    )
    db.commit()
    logged_in("evaluator")
    html = client.get("/").text
    item = html.split(f'id="project-{project.id}"')[1].split("</section>")[0]
    assert "<strong>support</strong>" in item and "<li>short</li>" in item
    assert "**support**" not in item
    assert "<script>alert" not in item and 'href="javascript' not in item
