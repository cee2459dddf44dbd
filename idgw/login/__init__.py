"""The interaction between /authorize and issuing the code: sessions, password login, the
ordered steps (session? max_age? prompt? consent?) that decide what the person must do next."""
