# placeholder: replaced by the payload core
