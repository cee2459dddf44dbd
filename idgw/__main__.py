from idgw.cli import app

app(prog_name="idgw")
