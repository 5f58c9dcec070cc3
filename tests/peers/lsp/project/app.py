"""The file the LSP tests open (tests/peer_lsp.rs, examples/lsp_client.rs).

They find their positions by searching this text: the hover is on the call of
`greet` below, the completion is at the end of the unfinished `os.pa`.
"""

import os

from greetings import greet

print(greet("world", excited=True))
here = os.pa
