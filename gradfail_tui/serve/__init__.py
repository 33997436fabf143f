"""`gradfail serve`: the explorer, or a talk, in a web browser, through textual-serve.

server.py runs the web server (textual-serve's, with its lifecycle made strict); child.py is what
each browser session starts. Torch-free; imported only by the `serve` command.
"""
