from idgw.cli import main

main()
