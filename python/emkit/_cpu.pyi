# Hand-written stub of the compiled emkit._cpu (cpp/bindings/cpu/cpu.cpp).
from typing import Dict

def features() -> Dict[str, bool]: ...
