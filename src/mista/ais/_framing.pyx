# placeholder: replaced by the framing core
