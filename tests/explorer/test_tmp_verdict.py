from tests.explorer.pilot import SIZE, sync
from tests.explorer.test_groups import parity_app, run_group_to_its_verdict
from tests.scripted import Script

@sync
async def test_x(tmp_path):
    app, engines = parity_app(tmp_path, Script(end="complete"))
    async with app.run_test(size=SIZE) as pilot:
        await run_group_to_its_verdict(pilot, app)
        await pilot.pause(0.5)
        open("/tmp/live-scratch/v.svg","w").write(app.export_screenshot())
        for w in app.query("GroupPanel *"):
            pass
